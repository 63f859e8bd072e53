import { type DailySummaryRecord, machineMinutes, summaryMinutes } from '../../domain/summaries';

export interface SummaryMessage {
  subject: string;
  text: string;
  html: string;
}

/** A figure as a person reads it: grouped thousands, at most `digits` decimals. */
function figure(value: number, digits = 2): string {
  return value.toLocaleString('en-GB', { maximumFractionDigits: digits });
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Where the dashboard shows the user's hours of that day (its selection lives in the URL's hash). */
export function dashboardLink(baseUrl: string, user: string, date: string): string {
  const params = new URLSearchParams({
    level: 'USER',
    key: user,
    range: 'custom',
    from: date,
    to: date,
    granularity: 'HOUR',
  });
  return `${baseUrl.replace(/#.*$/, '')}#${params.toString()}`;
}

/** The lines of a summary: label and value, the same in the text and the HTML. */
function rows(summary: DailySummaryRecord): Array<[string, string]> {
  const { figures: f } = summary;
  const minutes = summaryMinutes(f);
  const cpuKwh = f.busyKwh + f.idleKwh;
  const resourcesKwh = f.memoryKwh + f.storageKwh + f.networkKwh;
  const cpuG = f.busyGco2eq + f.idleGco2eq;
  const resourcesG = f.memoryGco2eq + f.storageGco2eq + f.networkGco2eq;
  const byMachine = summary.byMachine
    .map(({ machineName, upHours }) => `${machineName} ${figure(machineMinutes(upHours), 1)} min`)
    .join('; ');
  return [
    ['VM minutes', figure(minutes.vmMinutes, 1)],
    ['RAM GB-minutes', figure(minutes.ramGbMinutes, 1)],
    ['Disk GB-minutes', figure(minutes.diskGbMinutes, 1)],
    ['By machine type', byMachine === '' ? 'none' : byMachine],
    [
      'Energy',
      `${figure(cpuKwh + resourcesKwh, 3)} kWh (CPU busy ${figure(f.busyKwh, 3)}, idle ${figure(f.idleKwh, 3)}; ` +
        `memory, disk and network ${figure(resourcesKwh, 3)})`,
    ],
    [
      'Carbon',
      `${figure(cpuG + resourcesG, 1)} gCO2eq (CPU busy ${figure(f.busyGco2eq, 1)}, idle ${figure(f.idleGco2eq, 1)}; ` +
        `memory, disk and network ${figure(resourcesG, 1)}); embodied ${figure(f.embodiedGco2eq, 1)} gCO2eq`,
    ],
  ];
}

/** The email of one user's day: a short plain text and the same as HTML, with the dashboard's link. */
export function summaryMessage(summary: DailySummaryRecord, dashboardUrl: string): SummaryMessage {
  const link = dashboardLink(dashboardUrl, summary.user, summary.date);
  const lines = rows(summary);
  const note = summary.complete
    ? null
    : `Some hours of the day could not be measured yet (${summary.failedHours} failed): these ` +
      'figures count the others, and the dashboard shows them once they are repaired.';
  const f = summary.figures;
  const subject =
    `Your cloud usage on ${summary.date}: ${figure(summaryMinutes(f).vmMinutes, 0)} VM minutes, ` +
    `${figure(f.busyGco2eq + f.idleGco2eq + f.memoryGco2eq + f.storageGco2eq + f.networkGco2eq, 1)} gCO2eq`;
  const width = Math.max(...lines.map(([label]) => label.length)) + 2;
  const text = [
    `Hello ${summary.user},`,
    '',
    `Your usage on ${summary.date} (UTC):`,
    '',
    ...lines.map(([label, value]) => `  ${`${label}:`.padEnd(width)}${value}`),
    ...(note === null ? [] : ['', note]),
    '',
    `See it on the dashboard: ${link}`,
    '',
  ].join('\n');
  const html = [
    '<!doctype html><html><body>',
    `<p>Hello ${escapeHtml(summary.user)},</p>`,
    `<p>Your usage on <strong>${summary.date}</strong> (UTC):</p>`,
    '<table>',
    ...lines.map(
      ([label, value]) => `<tr><th align="left">${escapeHtml(label)}</th><td>${escapeHtml(value)}</td></tr>`,
    ),
    '</table>',
    ...(note === null ? [] : [`<p>${escapeHtml(note)}</p>`]),
    `<p><a href="${escapeHtml(link)}">See it on the dashboard</a></p>`,
    '</body></html>',
  ].join('\n');
  return { subject, text, html };
}
