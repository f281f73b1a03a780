import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * The LDAP and AD suites run against real slapd and Samba AD DC processes, so `npm test` on a
 * fresh machine first makes sure their Debian packages are there. `.ci/install-deps` does nothing
 * when they are; otherwise it installs them (as root) or says which command to run.
 */
export default function setup(): void {
  const script = fileURLToPath(new URL('../.ci/install-deps', import.meta.url));
  try {
    execFileSync(script, { stdio: ['ignore', 'inherit', 'inherit'] });
  } catch {
    throw new Error('the LDAP/AD test servers are not installed and could not be installed; see the message above (.ci/install-deps)');
  }
}
