import type { Clock } from '../domain/clock';
import { type Breakdown, zeroBreakdown } from '../domain/figures';
import { machineKey } from '../domain/machine-key';
import { bucketStart, DAY_MS, monthsOverlapping } from '../domain/time';
import { machineMetricsId } from './ids';
import { presented } from './precision';
import { filesToRead, planReads, type ReadPiece } from './read-plan';
import { addStoredFigures, loadStoredFiles } from './stored-figures';
import type { UsageReader } from './usage-reader';

export interface Stat {
  average: number;
}

export interface BusyIdle {
  busy: Stat;
  idle: Stat;
}

export interface MachineMetricsView {
  id: string;
  machineName: string;
  energyKwh: BusyIdle;
  carbonGco2eq: BusyIdle;
  instanceHours: number;
}

export interface MachineMetricsQuery {
  /** A machine type as labelled (`Artemis (Matlab)`) or its machine key (`ARTEMIS_MATLAB`); null for all. */
  machineName: string | null;
  /** Whole UTC days before today. */
  days: number;
}

/**
 * Per machine type, kWh and gCO2eq per instance-hour over the last `days` whole UTC days: the
 * MACHINE level's figures over the window divided by the ledger's instance-hours of that machine
 * over the window's ok hours. Today is left out because it is still being ingested.
 */
export async function readMachineMetrics(
  reader: UsageReader,
  clock: Clock,
  query: MachineMetricsQuery,
): Promise<MachineMetricsView[]> {
  const windowEnd = bucketStart('DAY', clock.now());
  const windowStart = windowEnd - query.days * DAY_MS;
  const wanted = query.machineName === null ? null : machineKey(query.machineName);
  const machines = (await reader.keys('MACHINE')).sorted.filter(
    (machine) => wanted === null || machineKey(machine) === wanted,
  );
  const pieces = planReads(windowStart, windowEnd);
  const [instanceHours, usage] = await Promise.all([
    instanceHoursByMachine(reader, windowStart, windowEnd),
    Promise.all(machines.map((machine) => readMachineUsage(reader, machine, pieces))),
  ]);
  return machines.flatMap((machineName, i) => {
    const hours = instanceHoursOf(machineName, instanceHours);
    if (hours === 0) return [];
    const { all } = usage[i];
    return [
      {
        id: machineMetricsId(machineName, query.days),
        machineName,
        energyKwh: {
          busy: { average: presented(all.busyKwh / hours) },
          idle: { average: presented(all.idleKwh / hours) },
        },
        carbonGco2eq: {
          busy: { average: presented(all.busyGco2eq / hours) },
          idle: { average: presented(all.idleGco2eq / hours) },
        },
        instanceHours: hours,
      },
    ];
  });
}

/** Instance-hours of the window's ok hours, by machine type as the ledger names it. */
async function instanceHoursByMachine(reader: UsageReader, from: number, to: number) {
  const months = await Promise.all(monthsOverlapping(from, to).map((month) => reader.ledgerMonth(month)));
  const byMachine = new Map<string, number>();
  for (const month of months) {
    for (const [hour, record] of month.hours) {
      if (hour < from || hour >= to || record.status !== 'ok') continue;
      for (const [machine, count] of Object.entries(record.instanceHours)) {
        byMachine.set(machine, (byMachine.get(machine) ?? 0) + count);
      }
    }
  }
  return byMachine;
}

/**
 * The ledger names machines as labelled; a MACHINE-level key is matched to a ledger name by the
 * name itself or by its machine key, so either way the store spells its keys, they meet.
 */
function instanceHoursOf(machine: string, byLedgerName: Map<string, number>): number {
  let hours = 0;
  for (const [ledgerName, count] of byLedgerName) {
    if (ledgerName === machine || machineKey(ledgerName) === machine) hours += count;
  }
  return hours;
}

async function readMachineUsage(
  reader: UsageReader,
  machine: string,
  pieces: ReadPiece[],
): Promise<Breakdown> {
  const stored = await loadStoredFiles(reader, 'MACHINE', machine, filesToRead(pieces));
  const usage = zeroBreakdown();
  for (const piece of pieces) addStoredFigures(usage, piece, stored);
  return usage;
}
