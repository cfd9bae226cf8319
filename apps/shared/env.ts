// Reading an app's settings from the environment, with errors that name the variable.
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") {
    throw new Error(`environment variable ${name} is required`);
  }
  return value;
}

export function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;

  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(
      `environment variable ${name} must be a non-negative integer (got "${raw}")`,
    );
  }
  return value;
}

export function jsonEnv<T>(name: string, fallback: T): T {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  try {
    return JSON.parse(raw) as T;
  } catch (err) {
    throw new Error(`environment variable ${name} must be JSON`, { cause: err });
  }
}
