// Address arithmetic done at synth time, so the plan shows literal CIDRs and IPs and a
// test can check them without Terraform.
import { formatIp, parseCidr } from "../regions/schema.ts";

/** The subnets of one region's VPC, one of each kind per AZ, in AZ order. */
export interface SubnetLayout {
  readonly private: readonly string[];
  readonly public: readonly string[];
}

/** Smallest private subnet that still leaves room for the ZooKeeper reservation. */
const MAX_PRIVATE_PREFIX = 27;

/** Size of the explicit reservation at the top of each private subnet for ZooKeeper. */
const ZK_RESERVATION_PREFIX = 28;

/** AZ names of a region: `us-east-1a`, `us-east-1b`, ... */
export function azNames(awsRegion: string, count: number): string[] {
  return Array.from(
    { length: count },
    (_, i) => `${awsRegion}${String.fromCharCode(97 + i)}`,
  );
}

/**
 * Splits a VPC CIDR: the lower half into private subnets, the upper half into public
 * ones, each half cut into a power of two of equal pieces (one per AZ, spares unused).
 * Throws when the private subnets would be smaller than /27.
 */
export function subnetLayout(cidr: string, azs: number): SubnetLayout {
  const vpc = parseCidr(cidr);
  if (typeof vpc === "string") throw new Error(`region cidr: ${vpc}`);

  const pieces = 2 ** Math.ceil(Math.log2(azs));
  const prefix = vpc.prefix + 1 + Math.log2(pieces);
  if (prefix > MAX_PRIVATE_PREFIX) {
    throw new Error(
      `region cidr ${cidr} is too small for ${azs} AZs: its subnets would be /${prefix}; ` +
        `use a /${vpc.prefix - (prefix - MAX_PRIVATE_PREFIX)} or fewer AZs`,
    );
  }

  const size = 2 ** (32 - prefix);
  const half = vpc.size / 2;
  const at = (base: number, i: number): string =>
    `${formatIp(base + i * size)}/${prefix}`;
  return Object.freeze({
    private: Object.freeze(Array.from({ length: azs }, (_, i) => at(vpc.base, i))),
    public: Object.freeze(Array.from({ length: azs }, (_, i) => at(vpc.base + half, i))),
  });
}

/** The /28 at the top of a private subnet, reserved for fixed ZooKeeper addresses. */
export function zookeeperReservation(subnetCidr: string): string {
  const subnet = parseAnyCidr(subnetCidr);
  const size = 2 ** (32 - ZK_RESERVATION_PREFIX);
  return `${formatIp(subnet.base + subnet.size - size)}/${ZK_RESERVATION_PREFIX}`;
}

/** Where one ZooKeeper node lives: its AZ index and fixed private IP. */
export interface ZookeeperPlacement {
  readonly azIndex: number;
  readonly ip: string;
}

/**
 * Places `size` nodes round-robin over the AZs of `privateSubnets` (so no two nodes
 * share an AZ while there are free AZs) and gives each a fixed address inside its
 * subnet's reservation: the n-th node of an AZ takes the n-th address of it.
 */
export function placeZookeeperNodes(
  privateSubnets: readonly string[],
  size: number,
): ZookeeperPlacement[] {
  return Array.from({ length: size }, (_, node) => {
    const azIndex = node % privateSubnets.length;
    const ordinal = Math.floor(node / privateSubnets.length);
    const reserved = parseAnyCidr(zookeeperReservation(privateSubnets[azIndex]!));
    return { azIndex, ip: formatIp(reserved.base + ordinal) };
  });
}

/** Parses any IPv4 CIDR (the region schema's parser only takes VPC-sized ones). */
function parseAnyCidr(cidr: string): { base: number; size: number; prefix: number } {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!m) throw new Error(`"${cidr}" is not an IPv4 CIDR`);

  const base = m.slice(1, 5).reduce((acc, o) => acc * 256 + Number(o), 0);
  const prefix = Number(m[5]);
  return { base, size: 2 ** (32 - prefix), prefix };
}
