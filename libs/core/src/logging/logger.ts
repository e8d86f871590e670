export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** Minimal structured logger: one line per event on stderr so stdout stays machine-readable. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  child(scope: string): Logger;
}

export function createLogger(
  level: LogLevel = (process.env.OODKIT_LOG_LEVEL as LogLevel | undefined) ?? 'info',
  scope = '',
  sink: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Logger {
  const threshold = ORDER[level] ?? ORDER.info;
  const emit = (lvl: LogLevel, message: string) => {
    if (ORDER[lvl] < threshold) return;
    sink(`[${lvl}]${scope ? ` ${scope}:` : ''} ${message}`);
  };
  return {
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m) => emit('warn', m),
    error: (m) => emit('error', m),
    child: (child) => createLogger(level, scope ? `${scope}.${child}` : child, sink),
  };
}

export const silentLogger: Logger = createLogger('silent');
