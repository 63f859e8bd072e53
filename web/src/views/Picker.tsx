import { GRANULARITIES, LEVEL_LABELS, LEVELS, MAX_HOUR_DAYS, RANGE_PRESETS, type Selection } from '../range';

interface Props {
  selection: Selection;
  keys: readonly string[] | undefined;
  /** The granularity the range suggests, shown beside "auto". */
  granularity: string;
  problem?: string;
  onChange(selection: Selection): void;
}

/** Level, key, range and granularity: plain labelled form controls, usable from the keyboard. */
export function Picker({ selection, keys, granularity, problem, onChange }: Props) {
  const set = (change: Partial<Selection>) => onChange({ ...selection, ...change });
  // A key from a link that the level's list does not hold (out of the token's scope, say) stays shown.
  const keyList =
    selection.key && !(keys ?? []).includes(selection.key) ? [selection.key, ...(keys ?? [])] : (keys ?? []);
  return (
    <form class="picker" aria-label="What to show" onSubmit={(event) => event.preventDefault()}>
      <div class="field">
        <label for="level">Level</label>
        <select
          id="level"
          value={selection.level}
          onChange={(e) => set({ level: e.currentTarget.value as Selection['level'], key: '' })}
        >
          {LEVELS.map((level) => (
            <option value={level} key={level}>
              {LEVEL_LABELS[level]}
            </option>
          ))}
        </select>
      </div>
      <div class="field field-key">
        <label for="key">{LEVEL_LABELS[selection.level]}</label>
        <select
          id="key"
          value={selection.key}
          onChange={(e) => set({ key: e.currentTarget.value })}
          disabled={keyList.length === 0}
        >
          {keyList.length === 0 && <option value="">No keys</option>}
          {keyList.map((key) => (
            <option value={key} key={key}>
              {key}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="range">Range</label>
        <select
          id="range"
          value={selection.range}
          onChange={(e) => set({ range: e.currentTarget.value as Selection['range'] })}
        >
          {Object.entries(RANGE_PRESETS).map(([value, preset]) => (
            <option value={value} key={value}>
              {preset.label}
            </option>
          ))}
          <option value="custom">Custom days…</option>
        </select>
      </div>
      {selection.range === 'custom' && (
        <>
          <div class="field">
            <label for="from">First day (UTC)</label>
            <input
              id="from"
              type="date"
              value={selection.from}
              onChange={(e) => set({ from: e.currentTarget.value })}
            />
          </div>
          <div class="field">
            <label for="to">Last day (UTC)</label>
            <input
              id="to"
              type="date"
              value={selection.to}
              onChange={(e) => set({ to: e.currentTarget.value })}
            />
          </div>
        </>
      )}
      <div class="field">
        <label for="granularity">Buckets</label>
        <select
          id="granularity"
          value={selection.granularity}
          onChange={(e) => set({ granularity: e.currentTarget.value as Selection['granularity'] })}
        >
          <option value="auto">Auto ({granularity.toLowerCase()})</option>
          {GRANULARITIES.map((value) => (
            <option value={value} key={value}>
              {value === 'HOUR' ? `Hour (up to ${MAX_HOUR_DAYS} days)` : value === 'DAY' ? 'Day' : 'Month'}
            </option>
          ))}
        </select>
      </div>
      {problem && (
        <p class="picker-problem" role="alert">
          {problem}
        </p>
      )}
    </form>
  );
}
