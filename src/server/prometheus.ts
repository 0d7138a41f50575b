// Prometheus's text exposition format (version 0.0.4), which every scraper and OpenMetrics parser
// reads: `# HELP`, `# TYPE`, then one `name{label="value"} number` line per sample.

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface Sample {
  readonly labels?: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface MetricFamily {
  /** `[a-zA-Z_:][a-zA-Z0-9_:]*`; counters end in `_total` by convention. */
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge";
  /** May be empty: the family is still announced, so dashboards find it before its first event. */
  readonly samples: readonly Sample[];
}

/** A label value inside double quotes: backslash, double quote and line feed are escaped. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** HELP text: backslash and line feed are escaped (quotes are not, per the format). */
function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function renderPrometheus(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const f of families) {
    // Names come from this file's callers, not from requests: a bad one is a programming error.
    if (!NAME.test(f.name)) throw new TypeError(`invalid metric name ${JSON.stringify(f.name)}`);
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const entries = Object.entries(s.labels ?? {});
      for (const [k] of entries) if (!LABEL.test(k)) throw new TypeError(`invalid label name ${JSON.stringify(k)}`);
      const labels = entries.length === 0 ? "" : `{${entries.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",")}}`;
      lines.push(`${f.name}${labels} ${formatValue(s.value)}`);
    }
  }
  return lines.join("\n") + "\n";
}
