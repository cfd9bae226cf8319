// A region's connection to the inter-region backbone that chat-global builds: its VPC
// attached to the region's transit gateway, and routes to every other region's CIDR.
import { Construct } from "constructs";

import {
  DataAwsEc2TransitGateway,
  Ec2TransitGatewayVpcAttachment,
  Route,
} from "../aws.ts";

import { REGION_TAG } from "../names.ts";

export interface BackboneAttachmentProps {
  readonly regionId: string;
  readonly vpcId: string;
  /** Private subnets (one per AZ) the attachment places its interfaces in. */
  readonly subnetIds: readonly string[];
  /** Route tables of the private subnets. */
  readonly routeTableIds: readonly string[];
  /** VPC CIDRs of the other regions. */
  readonly peerCidrs: readonly string[];
}

/** VPC attachment to the region's transit gateway plus routes to the peer regions. */
export class BackboneAttachment extends Construct {
  constructor(scope: Construct, id: string, props: BackboneAttachmentProps) {
    super(scope, id);

    // Found by tag, so this stack needs no state of chat-global, only its deployment.
    const gateway = new DataAwsEc2TransitGateway(this, "gateway", {
      filter: [
        { name: `tag:${REGION_TAG}`, values: [props.regionId] },
        { name: "state", values: ["available"] },
      ],
    });
    const attachment = new Ec2TransitGatewayVpcAttachment(this, "attachment", {
      transitGatewayId: gateway.id,
      vpcId: props.vpcId,
      subnetIds: [...props.subnetIds],
      dnsSupport: "enable",
      tags: { Name: `chat-${props.regionId}`, [REGION_TAG]: props.regionId },
    });

    props.routeTableIds.forEach((routeTableId, table) => {
      props.peerCidrs.forEach((cidr) => {
        new Route(this, `route-${table}-${cidr.replace(/[./]/g, "-")}`, {
          routeTableId,
          destinationCidrBlock: cidr,
          transitGatewayId: gateway.id,
          dependsOn: [attachment],
        });
      });
    });
  }
}
