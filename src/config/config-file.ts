/**
 * Reading `-f/--config-file`: JSON (`.json`) or YAML (`.yaml`, `.yml`; any other name is read as
 * YAML, which accepts JSON too), then checked by config-schema.ts. TOML is refused with a clear
 * message rather than misread.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { load as loadYaml } from 'js-yaml';
import { UsageError } from '../errors.ts';
import { checkConfig, type FileConfig } from './config-schema.ts';

/** Parses config text; `file` decides the format by its extension and names it in messages. */
export function parseConfigText(text: string, file: string): FileConfig {
  const ext = extname(file).toLowerCase();
  if (ext === '.toml') {
    throw new UsageError('ECONFIG', `config file ${file}: TOML is not supported`, { hint: 'write the same fields as JSON (.json) or YAML (.yaml)' });
  }
  let document: unknown;
  try {
    document = ext === '.json' ? JSON.parse(text) : loadYaml(text);
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
