/** The menu of scripted stories. */
import { alert } from "./alert.js";
import { jar } from "./jar.js";
import { overdraft } from "./overdraft.js";
import { recall } from "./recall.js";
import { rotation } from "./rotation.js";
import type { Story } from "./story.js";

export const STORIES: readonly Story[] = [overdraft, recall, jar, rotation, alert];
