#!/usr/bin/env node
// Runs the CLI from the TypeScript sources through tsx, or from dist/ after `npm run build`.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const built = path.join(root, 'dist', 'main.js');
const args = existsSync(built)
  ? [built, ...process.argv.slice(2)]
  : ['--import', 'tsx', path.join(root, 'src', 'main.ts'), ...process.argv.slice(2)];
const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(result.status ?? 1);
