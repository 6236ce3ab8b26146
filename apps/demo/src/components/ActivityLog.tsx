/** The activity log: acts, network changes, merges and story captions, newest first. */
import { clockTime } from "../format.js";
import { PLACES } from "../peers/cast.js";
import type { LogLine } from "../peers/world.js";

export function ActivityLog({ log }: { readonly log: readonly LogLine[] }) {
  return (
    <div className="card">
      <h2>Activity</h2>
      <div className="log" data-testid="activity-log">
        {[...log].reverse().map((l) => (
          <div key={l.id} className={l.tone}>
            <span className="muted">{clockTime(l.at)} </span>
            {l.place ? <b>{PLACES[l.place].name}: </b> : null}
            {l.text}
          </div>
        ))}
      </div>
    </div>
  );
}
