/**
 * Reading `-f/--config-file`: JSON (`.json`, `.jsonc`: comments and trailing commas allowed), TOML
 * (`.toml`, as mirrord's own `mirrord.toml`; TOML 1.0 through smol-toml), or YAML (`.yaml`,
 * `.yml`; any other name is read as YAML, which accepts JSON too), then checked by
 * config-schema.ts, the same checks whatever the format.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { load as loadYaml } from 'js-yaml';
import { parse as parseToml, TomlError } from 'smol-toml';
import { UsageError } from '../errors.ts';
import { checkConfig, type FileConfig } from './config-schema.ts';

/**
 * JSON with comments (`//`, `/* *\/`) and trailing commas, as mirrord's own docs write examples
 * that strict JSON rejects: blanks out comments and drops a comma before `}` or `]`, leaving strings
 * untouched (and line numbers unchanged, so JSON.parse's positions still point at the user's text).
 */
export function stripJsonComments(text: string): string {
  let out = '';
  let pendingComma = -1;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j;
      pendingComma = -1;
    } else if (ch === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') {
        out += ' ';
        i++;
      }
      out += i < text.length ? '\n' : '';
    } else if (ch === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end === -1 ? text.length : end + 2;
      out += text.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop - 1;
    } else if (ch === ',') {
      pendingComma = out.length;
      out += ch;
    } else if (ch === '}' || ch === ']') {
      if (pendingComma !== -1) out = `${out.slice(0, pendingComma)} ${out.slice(pendingComma + 1)}`;
      pendingComma = -1;
      out += ch;
    } else {
      if (!/\s/.test(ch)) pendingComma = -1;
      out += ch;
    }
  }
  return out;
}

type ConfigFormat = 'JSON' | 'TOML' | 'YAML';

function formatOf(file: string): ConfigFormat {
  const ext = extname(file).toLowerCase();
  return ext === '.json' || ext === '.jsonc' ? 'JSON' : ext === '.toml' ? 'TOML' : 'YAML';
}

const EXAMPLE: Record<ConfigFormat, string> = {
  JSON: '{"target": "deployment/web"}',
  TOML: 'target = "deployment/web"',
  YAML: 'target: deployment/web',
};

/** Parses config text; `file` decides the format by its extension and names it in messages. */
export function parseConfigText(text: string, file: string): FileConfig {
  const format = formatOf(file);
  let document: unknown;
  try {
    document = format === 'JSON' ? JSON.parse(stripJsonComments(text)) : format === 'TOML' ? parseToml(text) : loadYaml(text);
  } catch (err) {
    // smol-toml's message goes on with an excerpt of the file; its position is in line/column.
    const where = err instanceof TomlError ? ` (line ${err.line}, column ${err.column})` : '';
    const message = (err as Error).message.split('\n')[0].replace(/^Invalid TOML document: /, '');
    throw new UsageError('ECONFIG', `config file ${file} is not valid ${format}: ${message}${where}`, {
      hint: `fix the syntax; the file holds a mirrord-style config such as ${EXAMPLE[format]}`,
    });
  }
  return checkConfig(document, file);
}

/**
 * Reads and checks a config file.
 * @throws UsageError ECONFIG: unreadable file, bad syntax, unknown field, bad value.
 */
export function loadConfigFile(file: string): FileConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError('ECONFIG', `-f/--config-file ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`, {
      hint: 'pass the path of a JSON, TOML or YAML config file',
    });
  }
  return parseConfigText(text, file);
}
