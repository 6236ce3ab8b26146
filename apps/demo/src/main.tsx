/** The demo's entry point: mounts the page. */
import { createRoot } from "react-dom/client";
import { App } from "./App.js";
import "./styles.css";

const root = document.getElementById("root");
if (root === null) throw new Error("no #root element");
createRoot(root).render(<App />);
