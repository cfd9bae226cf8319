// Address arithmetic: subnet layout per AZ and the fixed ZooKeeper addresses.
import { describe, expect, it } from "vitest";

import {
  azNames,
  placeZookeeperNodes,
  subnetLayout,
  zookeeperReservation,
} from "../../infra/net-math.ts";
import { cidrsOverlap } from "../../regions/schema.ts";

describe("subnet layout", () => {
  it("puts private subnets in the lower half and public ones in the upper half", () => {
    expect(subnetLayout("10.10.0.0/16", 3)).toEqual({
      private: ["10.10.0.0/19", "10.10.32.0/19", "10.10.64.0/19"],
      public: ["10.10.128.0/19", "10.10.160.0/19", "10.10.192.0/19"],
    });
  });

  it("never overlaps two subnets", () => {
    const { private: priv, public: pub } = subnetLayout("10.40.0.0/20", 6);
    const all = [...priv, ...pub];
    for (const [i, a] of all.entries()) {
      for (const b of all.slice(i + 1))
        expect(cidrsOverlap(a, b), `${a} ${b}`).toBe(false);
    }
  });

  it("refuses a VPC too small for its AZs, saying what size to use", () => {
    expect(() => subnetLayout("10.50.0.0/24", 6)).toThrow(
      /too small for 6 AZs.*use a \/23/,
    );
  });

  it("names AZs by letter", () => {
    expect(azNames("eu-west-1", 3)).toEqual(["eu-west-1a", "eu-west-1b", "eu-west-1c"]);
  });
});

describe("ZooKeeper placement", () => {
  const subnets = ["10.10.0.0/19", "10.10.32.0/19", "10.10.64.0/19"];

  it("reserves the top /28 of each private subnet", () => {
    expect(zookeeperReservation("10.10.0.0/19")).toBe("10.10.31.240/28");
  });

  it("gives three servers three AZs", () => {
    expect(placeZookeeperNodes(subnets, 3)).toEqual([
      { azIndex: 0, ip: "10.10.31.240" },
      { azIndex: 1, ip: "10.10.63.240" },
      { azIndex: 2, ip: "10.10.95.240" },
    ]);
  });

  it("gives five servers over three AZs at most two per AZ, at distinct addresses", () => {
    const nodes = placeZookeeperNodes(subnets, 5);
    expect(nodes.map((n) => n.azIndex)).toEqual([0, 1, 2, 0, 1]);
    expect(new Set(nodes.map((n) => n.ip)).size).toBe(5);
    expect(nodes[3]!.ip).toBe("10.10.31.241");
  });
});
