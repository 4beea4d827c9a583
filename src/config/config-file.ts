/**
 * Reading `-f/--config-file`: JSON (`.json`, `.jsonc`: comments and trailing commas allowed) or YAML
 * (`.yaml`, `.yml`; any other name is read as YAML, which accepts JSON too), then checked by
 * config-schema.ts. TOML is refused with a clear message rather than misread: no TOML parser is
 * among the project's dependencies.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { load as loadYaml } from 'js-yaml';
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

/** Parses config text; `file` decides the format by its extension and names it in messages. */
export function parseConfigText(text: string, file: string): FileConfig {
  const ext = extname(file).toLowerCase();
  if (ext === '.toml') {
    throw new UsageError('ECONFIG', `config file ${file}: TOML is not supported`, { hint: 'write the same fields as JSON (.json) or YAML (.yaml)' });
  }
  let document: unknown;
  try {
    document = ext === '.json' || ext === '.jsonc' ? JSON.parse(stripJsonComments(text)) : loadYaml(text);
  } catch (err) {
    const message = (err as Error).message.split('\n')[0];
    throw new UsageError('ECONFIG', `config file ${file} is not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${message}`, {
      hint: 'fix the syntax; the file holds a mirrord-style config such as {"target": "deployment/web"}',
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
      hint: 'pass the path of a JSON or YAML config file',
    });
  }
  return parseConfigText(text, file);
}
