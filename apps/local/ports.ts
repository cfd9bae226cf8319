// Free loopback ports for every process and endpoint of the local system,
// picked before anything starts so each process knows its peers' addresses.
import { freePort } from "./services.ts";

export interface ZkPorts {
  readonly client: number;
  readonly peer: number;
  readonly election: number;
}

export interface RegionPorts {
  /** The primary redis-server. */
  readonly redis: number;
  /** The replica, when the region runs one. */
  readonly redisReplica?: number;
  /** What the apps connect to: the primary itself, or a movable endpoint in front of it. */
  readonly redisEndpoint: number;
  readonly zk: readonly ZkPorts[];
  readonly cs: number;
  readonly wss: readonly number[];
}

export interface Ports {
  readonly dynamo: number;
  readonly regions: Record<string, RegionPorts>;
}

export async function allocatePorts(
  ids: readonly string[],
  o: { wssPerRegion: number; zkEnsemble: 1 | 3; redisReplica: boolean },
): Promise<Ports> {
  const taken = new Set<number>();
  const next = async (): Promise<number> => {
    for (;;) {
      const p = await freePort();
      if (!taken.has(p)) {
        taken.add(p);
        return p;
      }
    }
  };

  const regions: Record<string, RegionPorts> = {};
  for (const id of ids) {
    const wss: number[] = [];
    for (let i = 0; i < o.wssPerRegion; i++) wss.push(await next());
    const zk: ZkPorts[] = [];
    for (let i = 0; i < o.zkEnsemble; i++) {
      zk.push({ client: await next(), peer: await next(), election: await next() });
    }
    const redis = await next();
    const redisReplica = o.redisReplica ? await next() : undefined;
    const redisEndpoint = o.redisReplica ? await next() : redis;
    regions[id] = { redis, redisReplica, redisEndpoint, zk, cs: await next(), wss };
  }
  return { dynamo: await next(), regions };
}
