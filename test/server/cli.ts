import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { bin } from '../e2e/helpers.js';

/** `scim-sync serve --listen 127.0.0.1:0` in its own process, as a user starts it. */
export interface Serving {
  url: string;
  child: ChildProcessWithoutNullStreams;
  stderr: () => string;
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function serveCli(cwd: string, env: Record<string, string>, args: string[] = []): Promise<Serving> {
  const child = spawn(process.execPath, [bin, 'serve', '--listen', '127.0.0.1:0', ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    const onData = () => {
      const m = /Serving SCIM 2\.0 at (\S+) /.exec(stderr);
      if (m) {
        child.stderr.off('data', onData);
        resolve(m[1]!);
      }
    };
    child.stderr.on('data', onData);
    void exited.then(({ code }) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
  return {
    url,
    child,
    stderr: () => stderr,
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

