import { HOUR_MS } from '../../domain/time';

/** What the checks read of a register (integrate.ts's Register). */
interface Register {
  vmId: number;
  seq: number;
  hostname: string | null;
  rstime: number;
  retime: number;
}

/** Why a column's value cannot be a measurement (NULL and text are read as NaN), or undefined. */
export function badValue(column: string, value: number): string | undefined {
  if (Number.isNaN(value)) return `${column} is not a number (NULL or text)`;
  return Number.isFinite(value) && value >= 0 ? undefined : `${column} ${value} is not a finite number ≥ 0`;
}

/**
 * Why a register cannot say where and when the VM ran, naming the column and the row, or
 * undefined. Such a register counts in no running time and no host history: the hours it may have
 * run in fail instead (registerSpan), so a garbled row never turns into hours lost or a period
 * ending before it starts.
 */
export function registerProblem(r: Register): string | undefined {
  const row = `(vm_id ${r.vmId}, seq ${r.seq})`;
  const bad = badValue('registers.rstime', r.rstime) ?? badValue('registers.retime', r.retime);
  if (bad !== undefined) return `${bad} ${row}`;
  if (r.hostname === null || r.hostname === '') return `registers.hostname is NULL or empty ${row}`;
  if (r.retime !== 0 && r.retime < r.rstime)
    return `registers.retime ${r.retime} is before rstime ${r.rstime} ${row}`;
  return undefined;
}

/**
 * The time (ms) a bad register may have run in: from its rstime (unknown: as far back as asked)
 * to its retime (unknown or open: as far on as asked); an inverted one, between the two.
 */
export function registerSpan(r: Register): [number, number] {
  const known = (t: number) => Number.isFinite(t) && t > 0;
  if (known(r.rstime) && known(r.retime) && r.retime < r.rstime) return [r.retime * 1000, r.rstime * 1000];
  return [known(r.rstime) ? r.rstime * 1000 : -Infinity, known(r.retime) ? r.retime * 1000 : Infinity];
}

/** The whole hours in [fromHour, toHour) that [from, to) (ms) meets. */
export function hoursMeeting([from, to]: [number, number], fromHour: number, toHour: number): number[] {
  const hours: number[] = [];
  const first = Math.max(fromHour, Math.floor(from / HOUR_MS) * HOUR_MS);
  for (let hour = first; hour < toHour && hour < to; hour += HOUR_MS) hours.push(hour);
  return hours;
}

/** Why a VM's keys or vcpu cannot be read (a NULL gid is nobody's group, never gid 0), or undefined. */
export function vmProblem(vm: { gid: number; uid: number; vcpu: number }): string | undefined {
  const bad = badValue('vms.gid', vm.gid) ?? badValue('vms.uid', vm.uid) ?? badValue('vms.vcpu', vm.vcpu);
  if (bad !== undefined) return bad;
  // Idle is vcpu × time running − busy: a VM that ran with no vcpu has no idle figure to give.
  return vm.vcpu >= 1 ? undefined : `vms.vcpu ${vm.vcpu} is not at least 1`;
}
