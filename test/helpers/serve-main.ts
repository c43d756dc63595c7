/** A tiny CLI entry with only `sitepipe serve`, for tests while pipeline/cli.ts does not register it yet. */
import { Command } from 'commander';
import { registerServe } from '../../pipeline/commands/serve.js';

const program = new Command('sitepipe');
registerServe(program);
await program.parseAsync(process.argv);
