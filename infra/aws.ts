// The AWS provider classes the infrastructure uses, each loaded from its own module
// (`@cdktf/provider-aws/lib/<resource>/index.js`), never from the package root, which
// loads every one of the ~1,500 resource modules and costs seconds and hundreds of MB.
//
// They are loaded with `require` rather than `import`, and with Node's source maps off
// while they load. They are large CommonJS files: through the ESM loader (and tsx's
// hooks) each is lexed for its exports, and each carries a large inline source map that
// nobody steps into. Measured with bench/synth.ts: a quarter less CPU and ~50 MB less
// memory for a synth of every stack than `export * from` the same modules.
import { createRequire } from "node:module";

const load = createRequire(import.meta.url);

/** Loads `@cdktf/provider-aws/lib/<module>/index.js`, typed as the caller says. */
function lib<T>(module: string): T {
  return load(`@cdktf/provider-aws/lib/${module}/index.js`) as T;
}

const sourceMaps = process.sourceMapsEnabled;
process.setSourceMapsEnabled(false);

export const { AcmCertificate } =
  lib<typeof import("@cdktf/provider-aws/lib/acm-certificate/index.js")>(
    "acm-certificate",
  );
export type AcmCertificate = InstanceType<typeof AcmCertificate>;
export const { AcmCertificateValidation } = lib<
  typeof import("@cdktf/provider-aws/lib/acm-certificate-validation/index.js")
>("acm-certificate-validation");
export type AcmCertificateValidation = InstanceType<typeof AcmCertificateValidation>;
export const { AppautoscalingPolicy } = lib<
  typeof import("@cdktf/provider-aws/lib/appautoscaling-policy/index.js")
>("appautoscaling-policy");
export type AppautoscalingPolicy = InstanceType<typeof AppautoscalingPolicy>;
export const { AppautoscalingTarget } = lib<
  typeof import("@cdktf/provider-aws/lib/appautoscaling-target/index.js")
>("appautoscaling-target");
export type AppautoscalingTarget = InstanceType<typeof AppautoscalingTarget>;
export const { AwsProvider } =
  lib<typeof import("@cdktf/provider-aws/lib/provider/index.js")>("provider");
export type AwsProvider = InstanceType<typeof AwsProvider>;
export const { CloudwatchLogGroup } =
  lib<typeof import("@cdktf/provider-aws/lib/cloudwatch-log-group/index.js")>(
    "cloudwatch-log-group",
  );
export type CloudwatchLogGroup = InstanceType<typeof CloudwatchLogGroup>;
export const { DataAwsAcmCertificate } = lib<
  typeof import("@cdktf/provider-aws/lib/data-aws-acm-certificate/index.js")
>("data-aws-acm-certificate");
export type DataAwsAcmCertificate = InstanceType<typeof DataAwsAcmCertificate>;
export const { DataAwsCallerIdentity } = lib<
  typeof import("@cdktf/provider-aws/lib/data-aws-caller-identity/index.js")
>("data-aws-caller-identity");
export type DataAwsCallerIdentity = InstanceType<typeof DataAwsCallerIdentity>;
export const { DataAwsEc2TransitGateway } = lib<
  typeof import("@cdktf/provider-aws/lib/data-aws-ec2-transit-gateway/index.js")
>("data-aws-ec2-transit-gateway");
export type DataAwsEc2TransitGateway = InstanceType<typeof DataAwsEc2TransitGateway>;
export const { DataAwsEcrRepository } = lib<
  typeof import("@cdktf/provider-aws/lib/data-aws-ecr-repository/index.js")
>("data-aws-ecr-repository");
export type DataAwsEcrRepository = InstanceType<typeof DataAwsEcrRepository>;
export const { DataAwsRoute53Zone } = lib<
  typeof import("@cdktf/provider-aws/lib/data-aws-route53-zone/index.js")
>("data-aws-route53-zone");
export type DataAwsRoute53Zone = InstanceType<typeof DataAwsRoute53Zone>;
export const { DataAwsSecretsmanagerRandomPassword } = lib<
  typeof import("@cdktf/provider-aws/lib/data-aws-secretsmanager-random-password/index.js")
>("data-aws-secretsmanager-random-password");
export type DataAwsSecretsmanagerRandomPassword = InstanceType<
  typeof DataAwsSecretsmanagerRandomPassword
>;
export const { DataAwsSecretsmanagerSecret } = lib<
  typeof import("@cdktf/provider-aws/lib/data-aws-secretsmanager-secret/index.js")
>("data-aws-secretsmanager-secret");
export type DataAwsSecretsmanagerSecret = InstanceType<
  typeof DataAwsSecretsmanagerSecret
>;
export const { DataAwsSsmParameter } = lib<
  typeof import("@cdktf/provider-aws/lib/data-aws-ssm-parameter/index.js")
>("data-aws-ssm-parameter");
export type DataAwsSsmParameter = InstanceType<typeof DataAwsSsmParameter>;
export const { DefaultSecurityGroup } = lib<
  typeof import("@cdktf/provider-aws/lib/default-security-group/index.js")
>("default-security-group");
export type DefaultSecurityGroup = InstanceType<typeof DefaultSecurityGroup>;
export const { DynamodbTable } =
  lib<typeof import("@cdktf/provider-aws/lib/dynamodb-table/index.js")>("dynamodb-table");
export type DynamodbTable = InstanceType<typeof DynamodbTable>;
export const { EbsVolume } =
  lib<typeof import("@cdktf/provider-aws/lib/ebs-volume/index.js")>("ebs-volume");
export type EbsVolume = InstanceType<typeof EbsVolume>;
export const { Ec2SubnetCidrReservation } = lib<
  typeof import("@cdktf/provider-aws/lib/ec2-subnet-cidr-reservation/index.js")
>("ec2-subnet-cidr-reservation");
export type Ec2SubnetCidrReservation = InstanceType<typeof Ec2SubnetCidrReservation>;
export const { Ec2TransitGateway } =
  lib<typeof import("@cdktf/provider-aws/lib/ec2-transit-gateway/index.js")>(
    "ec2-transit-gateway",
  );
export type Ec2TransitGateway = InstanceType<typeof Ec2TransitGateway>;
export const { Ec2TransitGatewayPeeringAttachment } = lib<
  typeof import("@cdktf/provider-aws/lib/ec2-transit-gateway-peering-attachment/index.js")
>("ec2-transit-gateway-peering-attachment");
export type Ec2TransitGatewayPeeringAttachment = InstanceType<
  typeof Ec2TransitGatewayPeeringAttachment
>;
export const { Ec2TransitGatewayPeeringAttachmentAccepter } = lib<
  typeof import("@cdktf/provider-aws/lib/ec2-transit-gateway-peering-attachment-accepter/index.js")
>("ec2-transit-gateway-peering-attachment-accepter");
export type Ec2TransitGatewayPeeringAttachmentAccepter = InstanceType<
  typeof Ec2TransitGatewayPeeringAttachmentAccepter
>;
export const { Ec2TransitGatewayRoute } = lib<
  typeof import("@cdktf/provider-aws/lib/ec2-transit-gateway-route/index.js")
>("ec2-transit-gateway-route");
export type Ec2TransitGatewayRoute = InstanceType<typeof Ec2TransitGatewayRoute>;
export const { Ec2TransitGatewayVpcAttachment } = lib<
  typeof import("@cdktf/provider-aws/lib/ec2-transit-gateway-vpc-attachment/index.js")
>("ec2-transit-gateway-vpc-attachment");
export type Ec2TransitGatewayVpcAttachment = InstanceType<
  typeof Ec2TransitGatewayVpcAttachment
>;
export const { EcrLifecyclePolicy } =
  lib<typeof import("@cdktf/provider-aws/lib/ecr-lifecycle-policy/index.js")>(
    "ecr-lifecycle-policy",
  );
export type EcrLifecyclePolicy = InstanceType<typeof EcrLifecyclePolicy>;
export const { EcrRepository } =
  lib<typeof import("@cdktf/provider-aws/lib/ecr-repository/index.js")>("ecr-repository");
export type EcrRepository = InstanceType<typeof EcrRepository>;
export const { EcsCluster } =
  lib<typeof import("@cdktf/provider-aws/lib/ecs-cluster/index.js")>("ecs-cluster");
export type EcsCluster = InstanceType<typeof EcsCluster>;
export const { EcsClusterCapacityProviders } = lib<
  typeof import("@cdktf/provider-aws/lib/ecs-cluster-capacity-providers/index.js")
>("ecs-cluster-capacity-providers");
export type EcsClusterCapacityProviders = InstanceType<
  typeof EcsClusterCapacityProviders
>;
export const { EcsService } =
  lib<typeof import("@cdktf/provider-aws/lib/ecs-service/index.js")>("ecs-service");
export type EcsService = InstanceType<typeof EcsService>;
export const { EcsTaskDefinition } =
  lib<typeof import("@cdktf/provider-aws/lib/ecs-task-definition/index.js")>(
    "ecs-task-definition",
  );
export type EcsTaskDefinition = InstanceType<typeof EcsTaskDefinition>;
export const { Eip } = lib<typeof import("@cdktf/provider-aws/lib/eip/index.js")>("eip");
export type Eip = InstanceType<typeof Eip>;
export const { ElasticacheParameterGroup } = lib<
  typeof import("@cdktf/provider-aws/lib/elasticache-parameter-group/index.js")
>("elasticache-parameter-group");
export type ElasticacheParameterGroup = InstanceType<typeof ElasticacheParameterGroup>;
export const { ElasticacheReplicationGroup } = lib<
  typeof import("@cdktf/provider-aws/lib/elasticache-replication-group/index.js")
>("elasticache-replication-group");
export type ElasticacheReplicationGroup = InstanceType<
  typeof ElasticacheReplicationGroup
>;
export const { ElasticacheSubnetGroup } = lib<
  typeof import("@cdktf/provider-aws/lib/elasticache-subnet-group/index.js")
>("elasticache-subnet-group");
export type ElasticacheSubnetGroup = InstanceType<typeof ElasticacheSubnetGroup>;
export const { FlowLog } =
  lib<typeof import("@cdktf/provider-aws/lib/flow-log/index.js")>("flow-log");
export type FlowLog = InstanceType<typeof FlowLog>;
export const { IamInstanceProfile } =
  lib<typeof import("@cdktf/provider-aws/lib/iam-instance-profile/index.js")>(
    "iam-instance-profile",
  );
export type IamInstanceProfile = InstanceType<typeof IamInstanceProfile>;
export const { IamRole } =
  lib<typeof import("@cdktf/provider-aws/lib/iam-role/index.js")>("iam-role");
export type IamRole = InstanceType<typeof IamRole>;
export const { IamRolePolicy } =
  lib<typeof import("@cdktf/provider-aws/lib/iam-role-policy/index.js")>(
    "iam-role-policy",
  );
export type IamRolePolicy = InstanceType<typeof IamRolePolicy>;
export const { IamRolePolicyAttachment } = lib<
  typeof import("@cdktf/provider-aws/lib/iam-role-policy-attachment/index.js")
>("iam-role-policy-attachment");
export type IamRolePolicyAttachment = InstanceType<typeof IamRolePolicyAttachment>;
export const { Instance } =
  lib<typeof import("@cdktf/provider-aws/lib/instance/index.js")>("instance");
export type Instance = InstanceType<typeof Instance>;
export const { InternetGateway } =
  lib<typeof import("@cdktf/provider-aws/lib/internet-gateway/index.js")>(
    "internet-gateway",
  );
export type InternetGateway = InstanceType<typeof InternetGateway>;
export const { KmsAlias } =
  lib<typeof import("@cdktf/provider-aws/lib/kms-alias/index.js")>("kms-alias");
export type KmsAlias = InstanceType<typeof KmsAlias>;
export const { KmsKey } =
  lib<typeof import("@cdktf/provider-aws/lib/kms-key/index.js")>("kms-key");
export type KmsKey = InstanceType<typeof KmsKey>;
export const { Lb } = lib<typeof import("@cdktf/provider-aws/lib/lb/index.js")>("lb");
export type Lb = InstanceType<typeof Lb>;
export const { LbListener } =
  lib<typeof import("@cdktf/provider-aws/lib/lb-listener/index.js")>("lb-listener");
export type LbListener = InstanceType<typeof LbListener>;
export const { LbTargetGroup } =
  lib<typeof import("@cdktf/provider-aws/lib/lb-target-group/index.js")>(
    "lb-target-group",
  );
export type LbTargetGroup = InstanceType<typeof LbTargetGroup>;
export const { NatGateway } =
  lib<typeof import("@cdktf/provider-aws/lib/nat-gateway/index.js")>("nat-gateway");
export type NatGateway = InstanceType<typeof NatGateway>;
export const { NetworkInterface } =
  lib<typeof import("@cdktf/provider-aws/lib/network-interface/index.js")>(
    "network-interface",
  );
export type NetworkInterface = InstanceType<typeof NetworkInterface>;
export const { Route } =
  lib<typeof import("@cdktf/provider-aws/lib/route/index.js")>("route");
export type Route = InstanceType<typeof Route>;
export const { Route53HealthCheck } =
  lib<typeof import("@cdktf/provider-aws/lib/route53-health-check/index.js")>(
    "route53-health-check",
  );
export type Route53HealthCheck = InstanceType<typeof Route53HealthCheck>;
export const { Route53Record } =
  lib<typeof import("@cdktf/provider-aws/lib/route53-record/index.js")>("route53-record");
export type Route53Record = InstanceType<typeof Route53Record>;
export const { RouteTable } =
  lib<typeof import("@cdktf/provider-aws/lib/route-table/index.js")>("route-table");
export type RouteTable = InstanceType<typeof RouteTable>;
export const { RouteTableAssociation } = lib<
  typeof import("@cdktf/provider-aws/lib/route-table-association/index.js")
>("route-table-association");
export type RouteTableAssociation = InstanceType<typeof RouteTableAssociation>;
export const { SecretsmanagerSecret } = lib<
  typeof import("@cdktf/provider-aws/lib/secretsmanager-secret/index.js")
>("secretsmanager-secret");
export type SecretsmanagerSecret = InstanceType<typeof SecretsmanagerSecret>;
export const { SecretsmanagerSecretVersion } = lib<
  typeof import("@cdktf/provider-aws/lib/secretsmanager-secret-version/index.js")
>("secretsmanager-secret-version");
export type SecretsmanagerSecretVersion = InstanceType<
  typeof SecretsmanagerSecretVersion
>;
export const { SecurityGroup } =
  lib<typeof import("@cdktf/provider-aws/lib/security-group/index.js")>("security-group");
export type SecurityGroup = InstanceType<typeof SecurityGroup>;
export const { Subnet } =
  lib<typeof import("@cdktf/provider-aws/lib/subnet/index.js")>("subnet");
export type Subnet = InstanceType<typeof Subnet>;
export const { VolumeAttachment } =
  lib<typeof import("@cdktf/provider-aws/lib/volume-attachment/index.js")>(
    "volume-attachment",
  );
export type VolumeAttachment = InstanceType<typeof VolumeAttachment>;
export const { Vpc } = lib<typeof import("@cdktf/provider-aws/lib/vpc/index.js")>("vpc");
export type Vpc = InstanceType<typeof Vpc>;
export const { VpcEndpoint } =
  lib<typeof import("@cdktf/provider-aws/lib/vpc-endpoint/index.js")>("vpc-endpoint");
export type VpcEndpoint = InstanceType<typeof VpcEndpoint>;
export const { VpcSecurityGroupEgressRule } = lib<
  typeof import("@cdktf/provider-aws/lib/vpc-security-group-egress-rule/index.js")
>("vpc-security-group-egress-rule");
export type VpcSecurityGroupEgressRule = InstanceType<typeof VpcSecurityGroupEgressRule>;
export const { VpcSecurityGroupIngressRule } = lib<
  typeof import("@cdktf/provider-aws/lib/vpc-security-group-ingress-rule/index.js")
>("vpc-security-group-ingress-rule");
export type VpcSecurityGroupIngressRule = InstanceType<
  typeof VpcSecurityGroupIngressRule
>;

process.setSourceMapsEnabled(sourceMaps);
