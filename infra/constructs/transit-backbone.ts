// The private network between regions: a transit gateway in every chat region, peered
// with every other one, with static routes to each region's VPC CIDR. Chat servers use
// it to call other regions' internal load balancers; Redis, ZooKeeper and the WSS never
// cross it. Region stacks attach their VPC to their gateway (found by tag).
import { Construct } from "constructs";

import {
  Ec2TransitGateway,
  Ec2TransitGatewayPeeringAttachment,
  Ec2TransitGatewayPeeringAttachmentAccepter,
  Ec2TransitGatewayRoute,
} from "../aws.ts";

import { REGION_TAG } from "../names.ts";
import type { RegionalProvider } from "./regional-providers.ts";

/** One chat region as the backbone sees it. */
export interface BackboneRegion extends RegionalProvider {
  readonly id: string;
  readonly cidr: string;
}

export interface TransitBackboneProps {
  /** Every chat region (sorted by id, so pairs keep their requester side). */
  readonly regions: readonly BackboneRegion[];
}

/** Transit gateways, a full mesh of peerings, and the routes across it. */
export class TransitBackbone extends Construct {
  constructor(scope: Construct, id: string, props: TransitBackboneProps) {
    super(scope, id);

    const regions = [...props.regions].sort((a, b) => a.id.localeCompare(b.id));
    const gateways = new Map(
      regions.map((r) => [
        r.id,
        new Ec2TransitGateway(this, `gateway-${r.id}`, {
          provider: r.provider,
          description: `Chat backbone of region ${r.id}`,
          autoAcceptSharedAttachments: "disable",
          defaultRouteTableAssociation: "enable",
          defaultRouteTablePropagation: "enable",
          dnsSupport: "enable",
          tags: { Name: `chat-${r.id}`, [REGION_TAG]: r.id },
        }),
      ]),
    );

    // Peering and accepted attachments are associated with each gateway's default route
    // table (default association is on); the static routes send peer CIDRs across.
    regions.forEach((a, i) => {
      for (const b of regions.slice(i + 1)) {
        const pair = `${a.id}-${b.id}`;
        const gatewayA = gateways.get(a.id)!;
        const gatewayB = gateways.get(b.id)!;
        const peering = new Ec2TransitGatewayPeeringAttachment(this, `peering-${pair}`, {
          provider: a.provider,
          transitGatewayId: gatewayA.id,
          peerTransitGatewayId: gatewayB.id,
          peerRegion: b.awsRegion,
          tags: { Name: `chat-${pair}` },
        });
        const accepted = new Ec2TransitGatewayPeeringAttachmentAccepter(
          this,
          `accept-${pair}`,
          {
            provider: b.provider,
            transitGatewayAttachmentId: peering.id,
            tags: { Name: `chat-${pair}` },
          },
        );
        new Ec2TransitGatewayRoute(this, `route-${a.id}-to-${b.id}`, {
          provider: a.provider,
          destinationCidrBlock: b.cidr,
          transitGatewayAttachmentId: peering.id,
          transitGatewayRouteTableId: gatewayA.associationDefaultRouteTableId,
          dependsOn: [accepted],
        });
        new Ec2TransitGatewayRoute(this, `route-${b.id}-to-${a.id}`, {
          provider: b.provider,
          destinationCidrBlock: a.cidr,
          transitGatewayAttachmentId: accepted.id,
          transitGatewayRouteTableId: gatewayB.associationDefaultRouteTableId,
        });
      }
    });
  }
}
