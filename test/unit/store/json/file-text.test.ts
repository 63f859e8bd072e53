import { FIGURE_FIELDS, type Breakdown, type Figures } from '../../../../src/domain/figures';
import { KEY_FIELD, LEVELS } from '../../../../src/domain/levels';
import { CPU_NAMES, RESOURCE_NAMES } from '../../../../src/domain/metrics';
import { seedDate } from '../../../../src/domain/time';
import { FAILED, type DayEntry } from '../../../../src/domain/usage';
import { dayFileText, monthFileText, yearFileText } from '../../../../src/store/json/codec';

// The file texts are rendered by hand; they must stay byte for byte what
// JSON.stringify(value, null, 2) gives for the objects the contract describes: the seed's six
// names (section 3), then the resources in snake_case (section 8) where any of them is not 0.
const STORED: Record<keyof Figures, string> = {
  busyCpuSeconds: 'busy_cpu_seconds_total',
  idleCpuSeconds: 'idle_cpu_seconds_total',
  busyKwh: 'busy_kwh',
  idleKwh: 'idle_kwh',
  busyGco2eq: 'busy_gCo2eq',
  idleGco2eq: 'idle_gCo2eq',
  upHours: 'up_hours',
  memoryByteHours: 'memory_byte_hours',
  diskByteHours: 'disk_byte_hours',
  networkReceiveBytes: 'network_receive_bytes',
  networkTransmitBytes: 'network_transmit_bytes',
  memoryKwh: 'memory_kwh',
  storageKwh: 'storage_kwh',
  networkKwh: 'network_kwh',
  memoryGco2eq: 'memory_gCo2eq',
  storageGco2eq: 'storage_gCo2eq',
  networkGco2eq: 'network_gCo2eq',
  embodiedGco2eq: 'embodied_gCo2eq',
};

const reference = (value: unknown): string => JSON.stringify(value, null, 2) + '\n';
const byName = ([a]: [string, unknown], [b]: [string, unknown]) => (a < b ? -1 : a > b ? 1 : 0);
const figuresJson = (f: Figures) =>
  Object.fromEntries(
    [...CPU_NAMES, ...(RESOURCE_NAMES.some((name) => f[name] !== 0) ? RESOURCE_NAMES : [])].map((field) => [
      STORED[field],
      f[field],
    ]),
  );
const breakdownJson = (b: Breakdown) =>
  Object.fromEntries([
    ['all', figuresJson(b.all)],
    ...Object.entries(b.byMachine)
      .sort(byName)
      .map(([m, f]) => [m, figuresJson(f)]),
  ]);

let seed = 7;
const random = (): number => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const SPECIAL = [0, -0, 1e21, 1e-7, 123456789.12345679, 0.1 + 0.2, Number.MAX_VALUE, 5e-324];
const figure = (): number =>
  random() < 0.2 ? SPECIAL[Math.floor(random() * SPECIAL.length)] : random() * 10 ** Math.floor(random() * 8);
/** Half of them CPU only, as a store of a CPU-only source holds. */
const figures = (): Figures => {
  const cpuOnly = random() < 0.5;
  return Object.fromEntries(
    FIGURE_FIELDS.map((field) => [field, cpuOnly && RESOURCE_NAMES.includes(field as never) ? 0 : figure()]),
  ) as unknown as Figures;
};
const MACHINES = ['ARTEMIS_MATLAB', 'SMALL', 'B', 'A', 'É_ü', 'WITH"QUOTE', '7', '10', 'Z9'];
const breakdown = (withIndexNames: boolean): Breakdown => {
  const pool = withIndexNames ? MACHINES : MACHINES.filter((m) => !/^\d+$/.test(m));
  const byMachine: Record<string, Figures> = {};
  for (const machine of pool) if (random() < 0.4) byMachine[machine] = figures();
  return { all: figures(), byMachine };
};

describe('JSON store file texts', () => {
  it.each([false, true])(
    'day entries equal the pretty JSON of their contract shape (index-like machines: %s)',
    (odd) => {
      for (let i = 0; i < 50; i++) {
        const level = LEVELS[i % LEVELS.length];
        const hours: DayEntry['hours'] = {};
        for (let h = 23; h >= 0; h--) {
          const r = random();
          if (r < 0.6) hours[`${String(h).padStart(2, '0')}:00`] = r < 0.1 ? FAILED : breakdown(odd);
        }
        const entry: DayEntry = {
          level,
          key: `key ${i} "q" ü`,
          date: '2025-09-21',
          hours,
          totals: breakdown(odd),
        };
        const expected = reference({
          [KEY_FIELD[level]]: entry.key,
          date: seedDate(entry.date),
          timeseries: Object.fromEntries([
            ['totals', breakdownJson(entry.totals)],
            ...Object.entries(hours)
              .sort(byName)
              .map(([label, hour]) => [
                label,
                hour === FAILED
                  ? { all: Object.fromEntries(CPU_NAMES.map((f) => [STORED[f], FAILED])) }
                  : breakdownJson(hour),
              ]),
          ]),
        });
        expect(dayFileText(entry)).toBe(expected);
      }
    },
  );

  it.each([false, true])(
    'month and year roll-ups equal the pretty JSON of their objects (index-like names: %s)',
    (odd) => {
      for (let i = 0; i < 30; i++) {
        const level = LEVELS[i % LEVELS.length];
        const parts = (names: string[]) =>
          Object.fromEntries(names.filter(() => random() < 0.7).map((n) => [n, breakdown(odd)]));
        const days = parts([
          ...Array.from({ length: 30 }, (_, d) => `2025-09-${String(d + 1).padStart(2, '0')}`),
          ...(odd ? ['5'] : []),
        ]);
        const months = parts([
          ...Array.from({ length: 12 }, (_, m) => `2025-${String(m + 1).padStart(2, '0')}`),
          ...(odd ? ['12'] : []),
        ]);
        const totals = breakdown(odd);
        const sorted = (record: Record<string, Breakdown>) =>
          Object.fromEntries(
            Object.entries(record)
              .sort(byName)
              .map(([n, b]) => [n, breakdownJson(b)]),
          );
        expect(monthFileText({ level, key: `k${i}`, month: '2025-09', totals, days })).toBe(
          reference({
            [KEY_FIELD[level]]: `k${i}`,
            month: '2025-09',
            totals: breakdownJson(totals),
            days: sorted(days),
          }),
        );
        expect(yearFileText({ level, key: `k${i}`, year: '2025', totals, months })).toBe(
          reference({
            [KEY_FIELD[level]]: `k${i}`,
            year: '2025',
            totals: breakdownJson(totals),
            months: sorted(months),
          }),
        );
      }
    },
  );

  it('renders an empty roll-up part list as {}', () => {
    const totals = breakdown(false);
    expect(monthFileText({ level: 'PROJECT', key: 'p', month: '2025-09', totals, days: {} })).toBe(
      reference({ cloud_project_name: 'p', month: '2025-09', totals: breakdownJson(totals), days: {} }),
    );
  });
});
