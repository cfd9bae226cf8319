// The VPC of one region: public and private subnets in every AZ, NAT, gateway endpoints
// for S3 and DynamoDB, a locked-down default security group and flow logs.
import { Construct } from "constructs";

import {
  CloudwatchLogGroup,
  DefaultSecurityGroup,
  Eip,
  FlowLog,
  IamRole,
  IamRolePolicy,
  InternetGateway,
  NatGateway,
  Route,
  RouteTable,
  RouteTableAssociation,
  Subnet,
  Vpc,
  VpcEndpoint,
} from "../aws.ts";

import { azNames, subnetLayout } from "../net-math.ts";
import { assumeRolePolicy, policyJson } from "./aws-context.ts";

export interface RegionalNetworkProps {
  /** Chat region id, used in names and tags. */
  readonly regionId: string;
  /** AWS region the VPC is in. */
  readonly awsRegion: string;
  /** VPC CIDR (from the region file); must not overlap any other region's. */
  readonly cidr: string;
  /** Number of AZs to spread over: `<awsRegion>a`, `b`, ... */
  readonly azs: number;
  /**
   * One NAT gateway per AZ (an AZ failure leaves the others their egress) or a single
   * one (cheaper, but egress of every AZ then depends on one AZ).
   * @default "perAz"
   */
  readonly natGateways?: "perAz" | "single";
  /**
   * Days of VPC flow logs kept in CloudWatch Logs.
   * @default 30
   */
  readonly flowLogRetentionDays?: number;
}

const DEFAULTS = Object.freeze({
  natGateways: "perAz",
  flowLogRetentionDays: 30,
} as const);

/** One private subnet: what other constructs need to place things in it. */
export interface PrivateSubnet {
  readonly id: string;
  readonly cidr: string;
  readonly az: string;
}

/** A VPC over the region's AZs with public and private subnets and NAT egress. */
export class RegionalNetwork extends Construct {
  readonly vpcId: string;
  readonly cidr: string;
  readonly azNames: readonly string[];
  readonly publicSubnetIds: readonly string[];
  readonly privateSubnets: readonly PrivateSubnet[];
  /** Route tables of the private subnets, one per AZ. */
  readonly privateRouteTableIds: readonly string[];

  constructor(scope: Construct, id: string, props: RegionalNetworkProps) {
    super(scope, id);

    const name = `chat-${props.regionId}`;
    const zones = azNames(props.awsRegion, props.azs);
    const layout = subnetLayout(props.cidr, props.azs);
    const natMode = props.natGateways ?? DEFAULTS.natGateways;

    const vpc = new Vpc(this, "vpc", {
      cidrBlock: props.cidr,
      enableDnsHostnames: true,
      enableDnsSupport: true,
      tags: { Name: name },
    });
    // Nothing may use the default security group: it allows all traffic between members.
    new DefaultSecurityGroup(this, "default-sg", {
      vpcId: vpc.id,
      tags: { Name: `${name}-unused` },
    });

    const igw = new InternetGateway(this, "igw", { vpcId: vpc.id, tags: { Name: name } });
    const publicRoutes = new RouteTable(this, "public-rt", {
      vpcId: vpc.id,
      tags: { Name: `${name}-public` },
    });
    new Route(this, "public-default", {
      routeTableId: publicRoutes.id,
      destinationCidrBlock: "0.0.0.0/0",
      gatewayId: igw.id,
    });

    const publicSubnets = zones.map((az, i) => {
      const subnet = new Subnet(this, `public-${az}`, {
        vpcId: vpc.id,
        cidrBlock: layout.public[i]!,
        availabilityZone: az,
        mapPublicIpOnLaunch: false,
        tags: { Name: `${name}-public-${az}`, "chat:tier": "public" },
      });
      new RouteTableAssociation(this, `public-${az}-rt`, {
        subnetId: subnet.id,
        routeTableId: publicRoutes.id,
      });
      return subnet;
    });

    const nats = (natMode === "single" ? zones.slice(0, 1) : zones).map((az, i) => {
      const eip = new Eip(this, `nat-eip-${az}`, {
        domain: "vpc",
        tags: { Name: `${name}-${az}` },
      });
      return new NatGateway(this, `nat-${az}`, {
        allocationId: eip.allocationId,
        subnetId: publicSubnets[i]!.id,
        tags: { Name: `${name}-${az}` },
        dependsOn: [igw],
      });
    });

    const privateRouteTables: RouteTable[] = [];
    const privateSubnets = zones.map((az, i) => {
      const subnet = new Subnet(this, `private-${az}`, {
        vpcId: vpc.id,
        cidrBlock: layout.private[i]!,
        availabilityZone: az,
        tags: { Name: `${name}-private-${az}`, "chat:tier": "private" },
      });
      const routes = new RouteTable(this, `private-${az}-rt`, {
        vpcId: vpc.id,
        tags: { Name: `${name}-private-${az}` },
      });
      new Route(this, `private-${az}-default`, {
        routeTableId: routes.id,
        destinationCidrBlock: "0.0.0.0/0",
        natGatewayId: (nats[i] ?? nats[0]!).id,
      });
      new RouteTableAssociation(this, `private-${az}-rta`, {
        subnetId: subnet.id,
        routeTableId: routes.id,
      });
      privateRouteTables.push(routes);
      return { id: subnet.id, cidr: layout.private[i]!, az };
    });

    // Gateway endpoints are free and keep DynamoDB traffic and ECR image layers (S3)
    // off the NAT gateways, which bill per GB.
    // TODO(#4): interface endpoints for ECR, Secrets Manager and Logs (~$22/month each
    // over 3 AZs) would take the rest of the AWS API traffic off NAT as well.
    for (const service of ["dynamodb", "s3"]) {
      new VpcEndpoint(this, `endpoint-${service}`, {
        vpcId: vpc.id,
        serviceName: `com.amazonaws.${props.awsRegion}.${service}`,
        vpcEndpointType: "Gateway",
        routeTableIds: privateRouteTables.map((rt) => rt.id),
        tags: { Name: `${name}-${service}` },
      });
    }

    this.addFlowLogs(
      name,
      vpc.id,
      props.flowLogRetentionDays ?? DEFAULTS.flowLogRetentionDays,
    );

    this.vpcId = vpc.id;
    this.cidr = props.cidr;
    this.azNames = Object.freeze(zones);
    this.publicSubnetIds = Object.freeze(publicSubnets.map((s) => s.id));
    this.privateSubnets = Object.freeze(privateSubnets);
    this.privateRouteTableIds = Object.freeze(privateRouteTables.map((rt) => rt.id));
  }

  private addFlowLogs(name: string, vpcId: string, retentionDays: number): void {
    const logs = new CloudwatchLogGroup(this, "flow-logs", {
      name: `/chat/${name.slice("chat-".length)}/vpc-flow-logs`,
      retentionInDays: retentionDays,
    });
    const role = new IamRole(this, "flow-logs-role", {
      name: `${name}-vpc-flow-logs`,
      assumeRolePolicy: assumeRolePolicy("vpc-flow-logs.amazonaws.com"),
    });
    new IamRolePolicy(this, "flow-logs-policy", {
      role: role.id,
      policy: policyJson([
        {
          Effect: "Allow",
          Action: [
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "logs:DescribeLogStreams",
          ],
          Resource: `${logs.arn}:*`,
        },
      ]),
    });
    new FlowLog(this, "flow-log", {
      vpcId,
      trafficType: "ALL",
      logDestinationType: "cloud-watch-logs",
      logDestination: logs.arn,
      iamRoleArn: role.arn,
      maxAggregationInterval: 600,
    });
  }
}
