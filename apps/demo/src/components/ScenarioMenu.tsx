/** The menu of scripted stories, and the player that runs the chosen one step by step. */
import type { Story } from "../scenarios/story.js";

export interface ScenarioMenuProps {
  readonly stories: readonly Story[];
  readonly story: Story | null;
  /** Index of the next step to play. */
  readonly position: number;
  readonly busy: boolean;
  readonly onChoose: (id: string) => void;
  readonly onStep: () => void;
  readonly onPlayAll: () => void;
}

export function ScenarioMenu({ stories, story, position, busy, onChoose, onStep, onPlayAll }: ScenarioMenuProps) {
  const done = story !== null && position >= story.steps.length;
  return (
    <div className="card story-card" data-testid="scenario-menu">
      <h2>Stories</h2>
      <select
        value={story?.id ?? ""}
        disabled={busy}
        onChange={(e) => e.target.value && onChoose(e.target.value)}
        style={{ width: "100%" }}
        data-testid="story-select"
      >
        <option value="">Free play (choose a story…)</option>
        {stories.map((s) => (
          <option key={s.id} value={s.id}>
            {s.title}
          </option>
        ))}
      </select>
      {story && (
        <>
          <p className="caption">{story.summary}</p>
          <div className="row">
            <button type="button" className="primary" disabled={busy || done} onClick={onStep} data-testid="story-step">
              {position === 0 ? "start" : done ? "the end" : `step ${position + 1} of ${story.steps.length}`}
            </button>
            <button type="button" disabled={busy || done} onClick={onPlayAll} data-testid="story-play">
              play to the end
            </button>
          </div>
          <ol className="steps">
            {story.steps.map((s, i) => (
              <li key={s.caption} className={i < position ? "done" : i === position ? "current" : ""}>
                {s.caption}
              </li>
            ))}
          </ol>
        </>
      )}
    </div>
  );
}
