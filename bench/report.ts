/** What a benchmark case returns, and how the run prints it. */
import Table from 'cli-table3';

export interface Measurement {
  name: string;
  value: number;
  unit: string;
}

export interface Goal {
  name: string;
  met: boolean;
  detail: string;
}

export interface CaseReport {
  measurements: Measurement[];
  /** Unitless ratios, by stable name (printed by --json under "ratios"). */
  ratios: Record<string, number>;
  goals: Goal[];
}

export function emptyReport(): CaseReport {
  return { measurements: [], ratios: {}, goals: [] };
}

export function merge(into: CaseReport, from: CaseReport): void {
  into.measurements.push(...from.measurements);
  Object.assign(into.ratios, from.ratios);
  into.goals.push(...from.goals);
}

const fmt = (n: number): string => (Number.isFinite(n) ? (Math.abs(n) >= 100 ? n.toFixed(0) : n.toPrecision(3)) : String(n));

/** cli-table3 colours its borders and headers even into a pipe; only colour a terminal. */
function tableStyle(): { style?: { head: string[]; border: string[] } } {
  const colour = process.stdout.isTTY && !process.env.NO_COLOR;
  return colour ? {} : { style: { head: [], border: [] } };
}

export function printTables(report: CaseReport): void {
  const style = tableStyle();
  const measurements = new Table({ head: ['measurement', 'value', 'unit'], ...style });
  for (const m of report.measurements) measurements.push([m.name, fmt(m.value), m.unit]);
  console.log(measurements.toString());
  const ratios = new Table({ head: ['ratio', 'value'], ...style });
  for (const [name, value] of Object.entries(report.ratios)) ratios.push([name, fmt(value)]);
  console.log(ratios.toString());
  const goals = new Table({ head: ['goal', 'met', 'measured'], ...style });
  for (const g of report.goals) goals.push([g.name, g.met ? 'yes' : 'NO', g.detail]);
  console.log(goals.toString());
}
