import { createTask } from 'node-cron';

/** The next time a schedule fires (in its time zone), or undefined for an expression node-cron rejects. */
export function nextRun(schedule: string, timezone: string | undefined): Date | undefined {
  try {
    const task = createTask(schedule, () => {}, timezone ? { timezone } : {});
    try {
      return task.getNextRuns(1)[0];
    } finally {
      void task.destroy();
    }
  } catch {
    return undefined;
  }
}
