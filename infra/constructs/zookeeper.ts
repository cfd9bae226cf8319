// The ZooKeeper ensemble of one region: 3 or 5 EC2 nodes over distinct AZs, each with a
// fixed private address (an ENI inside an explicit subnet reservation) and a data volume
// that outlives the instance, so a replaced node comes back as the same server.
import { Annotations } from "cdktf";
import { Construct } from "constructs";

import {
  DataAwsSsmParameter,
  EbsVolume,
  Ec2SubnetCidrReservation,
  IamInstanceProfile,
  IamRole,
  IamRolePolicyAttachment,
  Instance,
  NetworkInterface,
  SecurityGroup,
  VolumeAttachment,
  VpcSecurityGroupEgressRule,
} from "../aws.ts";

import { PORTS } from "../names.ts";
import { placeZookeeperNodes, zookeeperReservation } from "../net-math.ts";
import type { ServiceGroup } from "./app-platform.ts";
import { assumeRolePolicy, awsAccount } from "./aws-context.ts";
import type { PrivateSubnet } from "./network.ts";
import { allowGroupToGroup } from "./security.ts";

/** Quorum ports: followers to leader, and leader election. */
const QUORUM_PORTS = Object.freeze([2888, 3888]);

export interface ZookeeperEnsembleProps {
  /** Chat region id, used in names. */
  readonly regionId: string;
  /** VPC of the region. */
  readonly vpcId: string;
  /** Private subnets, one per AZ; nodes go round-robin over them. */
  readonly subnets: readonly PrivateSubnet[];
  /** Number of servers: 3 or 5 (odd, so a majority always exists). */
  readonly ensembleSize: 3 | 5;
  /** EC2 instance type, e.g. `t3.small` (a `g` family such as t4g runs on arm64). */
  readonly instanceType: string;
  /** The only security groups admitted on the client port (WSS and CS tasks). */
  readonly clientGroups: readonly ServiceGroup[];
  /** KMS key of the root and data volumes. */
  readonly kmsKeyArn: string;
  /**
   * Size of each node's data volume (snapshots and transaction log), GiB.
   * @default 20
   */
  readonly dataVolumeGiB?: number;
  /**
   * ZooKeeper container image run on each node.
   * @default "public.ecr.aws/docker/library/zookeeper:3.8.4"
   */
  readonly image?: string;
}

const DEFAULTS = Object.freeze({
  dataVolumeGiB: 20,
  image: "public.ecr.aws/docker/library/zookeeper:3.8.4",
});

/** A ZooKeeper ensemble with stable addresses, reachable only from the app tasks. */
export class ZookeeperEnsemble extends Construct {
  /** `ip:2181,ip:2181,...` for CHAT_ZK_CONNECT. */
  readonly connectString: string;
  /** Fixed private IPs of the servers, in server-id order. */
  readonly nodeIps: readonly string[];
  readonly securityGroupId: string;

  constructor(scope: Construct, id: string, props: ZookeeperEnsembleProps) {
    super(scope, id);

    const name = `chat-${props.regionId}-zk`;
    const placements = placeZookeeperNodes(
      props.subnets.map((s) => s.cidr),
      props.ensembleSize,
    );
    this.warnIfOneAzHoldsAMajority(
      props,
      placements.map((p) => p.azIndex),
    );

    const group = this.securityGroup(name, props);
    const profile = this.instanceProfile(name);
    const ami = new DataAwsSsmParameter(this, "ami", {
      name: `/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${
        isArm(props.instanceType) ? "arm64" : "x86_64"
      }`,
    });

    const reservations = new Map<number, Ec2SubnetCidrReservation>();
    for (const azIndex of new Set(placements.map((p) => p.azIndex))) {
      const subnet = props.subnets[azIndex]!;
      reservations.set(
        azIndex,
        new Ec2SubnetCidrReservation(this, `reserved-${subnet.az}`, {
          subnetId: subnet.id,
          cidrBlock: zookeeperReservation(subnet.cidr),
          reservationType: "explicit",
          description: "Fixed addresses of the chat ZooKeeper servers",
        }),
      );
    }

    const servers = placements
      .map(
        (p, i) =>
          `server.${i + 1}=${p.ip}:${QUORUM_PORTS[0]}:${QUORUM_PORTS[1]};${PORTS.zookeeper}`,
      )
      .join(" ");

    placements.forEach((placement, i) => {
      const serverId = i + 1;
      const subnet = props.subnets[placement.azIndex]!;
      const nodeName = `${name}-${serverId}`;
      const eni = new NetworkInterface(this, `eni-${serverId}`, {
        subnetId: subnet.id,
        privateIps: [placement.ip],
        securityGroups: [group.id],
        description: `ZooKeeper server ${serverId} (stable address)`,
        tags: { Name: nodeName },
        dependsOn: [reservations.get(placement.azIndex)!],
      });
      const volume = new EbsVolume(this, `data-${serverId}`, {
        availabilityZone: subnet.az,
        size: props.dataVolumeGiB ?? DEFAULTS.dataVolumeGiB,
        type: "gp3",
        encrypted: true,
        kmsKeyId: props.kmsKeyArn,
        tags: { Name: `${nodeName}-data` },
      });
      const instance = new Instance(this, `node-${serverId}`, {
        ami: ami.value,
        instanceType: props.instanceType,
        iamInstanceProfile: profile,
        networkInterface: [{ deviceIndex: 0, networkInterfaceId: eni.id }],
        metadataOptions: { httpTokens: "required", httpEndpoint: "enabled" },
        rootBlockDevice: {
          encrypted: true,
          kmsKeyId: props.kmsKeyArn,
          volumeType: "gp3",
          volumeSize: 16,
        },
        userData: bootScript({
          serverId,
          servers,
          volumeId: volume.id,
          image: props.image ?? DEFAULTS.image,
        }),
        tags: { Name: nodeName },
        // A new AMI or boot script must not restart every server at once (quorum loss).
        // TODO(#4): automate a one-server-at-a-time roll; until then OS patches mean
        // `terraform apply -replace=<instance>` per server, by hand (docs/deploy.md).
        lifecycle: { ignoreChanges: ["ami", "user_data"] },
      });
      new VolumeAttachment(this, `data-${serverId}-attachment`, {
        deviceName: "/dev/sdf",
        volumeId: volume.id,
        instanceId: instance.id,
        stopInstanceBeforeDetaching: true,
      });
    });

    this.nodeIps = Object.freeze(placements.map((p) => p.ip));
    this.connectString = this.nodeIps.map((ip) => `${ip}:${PORTS.zookeeper}`).join(",");
    this.securityGroupId = group.id;
  }

  /**
   * Client port from the app groups only; quorum ports only between ensemble members.
   * TODO(#4): add TLS and SASL to client and quorum traffic; until then anyone inside
   * the app groups can read ZooKeeper sessions (the VPC and groups are the only fence).
   */
  private securityGroup(name: string, props: ZookeeperEnsembleProps): SecurityGroup {
    const group = new SecurityGroup(this, "sg", {
      name,
      description: "Chat ZooKeeper: client port from app tasks, quorum ports inside",
      vpcId: props.vpcId,
      tags: { Name: name },
    });
    for (const client of props.clientGroups) {
      allowGroupToGroup(this, `from-${client.name}`, {
        fromGroupId: client.id,
        toGroupId: group.id,
        port: PORTS.zookeeper,
        description: `ZooKeeper clients from ${client.name}`,
      });
    }
    for (const port of QUORUM_PORTS) {
      allowGroupToGroup(this, `quorum-${port}`, {
        fromGroupId: group.id,
        toGroupId: group.id,
        port,
        description: "ZooKeeper quorum traffic between ensemble members",
      });
    }
    new VpcSecurityGroupEgressRule(this, "https-out", {
      securityGroupId: group.id,
      description: "HTTPS for packages, the image registry and Systems Manager",
      ipProtocol: "tcp",
      fromPort: 443,
      toPort: 443,
      cidrIpv4: "0.0.0.0/0",
    });
    return group;
  }

  /** An instance profile with Systems Manager access (shell without SSH or a key pair). */
  private instanceProfile(name: string): string {
    const { partition } = awsAccount(this);
    const role = new IamRole(this, "role", {
      name,
      assumeRolePolicy: assumeRolePolicy("ec2.amazonaws.com"),
    });
    new IamRolePolicyAttachment(this, "ssm", {
      role: role.name,
      policyArn: `arn:${partition}:iam::aws:policy/AmazonSSMManagedInstanceCore`,
    });
    return new IamInstanceProfile(this, "profile", { name, role: role.name }).name;
  }

  private warnIfOneAzHoldsAMajority(
    props: ZookeeperEnsembleProps,
    azIndexes: number[],
  ): void {
    const counts = new Map<number, number>();
    for (const az of azIndexes) counts.set(az, (counts.get(az) ?? 0) + 1);

    const most = Math.max(...counts.values());
    if (most > Math.floor(props.ensembleSize / 2)) {
      Annotations.of(this).addWarning(
        `region "${props.regionId}": ${most} of ${props.ensembleSize} ZooKeeper servers share ` +
          `one AZ, so losing that AZ loses quorum; give the region more AZs`,
      );
    }
  }
}

/** Graviton families carry a `g` after the generation digit: t4g, m7g, c7gn, r6gd. */
function isArm(instanceType: string): boolean {
  return /^[a-z]+\d+[a-z]*g[a-z]*\./.test(instanceType);
}

/**
 * The first-boot script of a node: mount the data volume (formatting it only when it
 * is blank), then run ZooKeeper in a container on the host network. Its shell code
 * avoids `${` and `%{`, which Terraform would read as template syntax.
 */
function bootScript(node: {
  serverId: number;
  servers: string;
  volumeId: string;
  image: string;
}): string {
  return [
    "#!/bin/bash",
    `# ZooKeeper server ${node.serverId}, written by infra/constructs/zookeeper.ts`,
    "set -euo pipefail",
    `VOLUME_ID="${node.volumeId}"`,
    "DATA_DIR=/var/lib/zookeeper",
    "# The data volume is attached after boot: wait for it (NVMe on Nitro, sdf on Xen).",
    'NVME="/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_$(echo "$VOLUME_ID" | tr -d -)"',
    'DEVICE=""',
    "for _ in $(seq 1 120); do",
    '  for c in "$NVME" /dev/sdf /dev/xvdf; do',
    '    if [ -b "$c" ]; then DEVICE="$c"; break 2; fi',
    "  done",
    "  sleep 5",
    "done",
    'if [ -z "$DEVICE" ]; then echo "volume $VOLUME_ID never appeared" >&2; exit 1; fi',
    "# Format only a blank volume: a used one holds this server's snapshots and log.",
    'if ! blkid "$DEVICE" >/dev/null 2>&1; then mkfs.xfs "$DEVICE"; fi',
    'mkdir -p "$DATA_DIR"',
    'UUID="$(blkid -s UUID -o value "$DEVICE")"',
    'echo "UUID=$UUID $DATA_DIR xfs defaults,nofail 0 2" >> /etc/fstab',
    'mount "$DATA_DIR"',
    'mkdir -p "$DATA_DIR/data" "$DATA_DIR/datalog"',
    "dnf install -y docker",
    "systemctl enable --now docker",
    "docker run -d --name zookeeper --restart always --network host \\",
    '  -v "$DATA_DIR/data:/data" -v "$DATA_DIR/datalog:/datalog" \\',
    `  -e ZOO_MY_ID=${node.serverId} \\`,
    `  -e ZOO_SERVERS="${node.servers}" \\`,
    "  -e ZOO_STANDALONE_ENABLED=false -e ZOO_ADMINSERVER_ENABLED=false \\",
    "  -e ZOO_4LW_COMMANDS_WHITELIST=ruok,srvr,mntr \\",
    "  -e ZOO_AUTOPURGE_PURGEINTERVAL=1 -e ZOO_AUTOPURGE_SNAPRETAINCOUNT=5 \\",
    `  ${node.image}`,
    "",
  ].join("\n");
}
