// One application on ECS Fargate: task definition, task and execution roles, logs, the
// service behind a target group, and target-tracking autoscaling.
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";

import {
  AppautoscalingPolicy,
  AppautoscalingTarget,
  CloudwatchLogGroup,
  EcsService,
  EcsTaskDefinition,
  IamRole,
  IamRolePolicy,
  IamRolePolicyAttachment,
} from "../aws.ts";

import { assumeRolePolicy, awsAccount, policyJson } from "./aws-context.ts";

/** Task sizes Fargate accepts: memory (MiB) allowed for each CPU value. */
const FARGATE_MEMORY: Readonly<
  Record<number, { min: number; max: number; step: number }>
> = Object.freeze({
  256: { min: 512, max: 2048, step: 512 },
  512: { min: 1024, max: 4096, step: 1024 },
  1024: { min: 2048, max: 8192, step: 1024 },
  2048: { min: 4096, max: 16384, step: 1024 },
  4096: { min: 8192, max: 30720, step: 1024 },
});

/** DynamoDB actions the apps use on the inbox and dedup tables; nothing else. */
const TABLE_ACTIONS = Object.freeze([
  "dynamodb:GetItem",
  "dynamodb:BatchGetItem",
  "dynamodb:Query",
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:BatchWriteItem",
  "dynamodb:ConditionCheckItem",
  "dynamodb:DescribeTable",
]);

export interface FargateServiceProps {
  /** Chat region id, used in names. */
  readonly regionId: string;
  /** AWS region (for the log driver and IAM conditions). */
  readonly awsRegion: string;
  /** Short name of the app: `wss` or `cs`. */
  readonly name: string;
  readonly clusterArn: string;
  readonly clusterName: string;
  /** Private subnets the tasks run in (no public IPs). */
  readonly subnetIds: readonly string[];
  /** Security group of the tasks. */
  readonly securityGroupId: string;
  /** Full image reference, `<repository url>:<tag>`. */
  readonly image: string;
  /** Port the container listens on. */
  readonly port: number;
  /** Target group the service registers its tasks in. */
  readonly targetGroupArn: string;
  /** Fargate task CPU units (256 ... 4096). */
  readonly cpu: number;
  /** Task memory, MiB; must be a size Fargate offers for `cpu`. */
  readonly memoryMiB: number;
  readonly minTasks: number;
  readonly maxTasks: number;
  /** Plain environment variables. */
  readonly environment: Readonly<Record<string, string>>;
  /** Environment variables filled from Secrets Manager: name -> secret ARN. */
  readonly secrets: Readonly<Record<string, string>>;
  /** KMS keys the secrets are encrypted with (beyond the AWS-managed key). */
  readonly secretKeyArns: readonly string[];
  /** ARNs of the DynamoDB tables (every replica) the task may read and write. */
  readonly tableArns: readonly string[];
  /**
   * Resources the service must wait for (the listener that attaches the target group).
   * @default none
   */
  readonly dependsOn?: readonly ITerraformDependable[];
  /**
   * Seconds ECS ignores failing load-balancer health checks after a task starts.
   * @default 60
   */
  readonly healthCheckGraceSeconds?: number;
  /**
   * Seconds between SIGTERM and SIGKILL when a task stops (Fargate allows up to 120).
   * @default 120
   */
  readonly stopTimeoutSeconds?: number;
  /**
   * Average CPU utilisation (%) autoscaling keeps the service at.
   * @default 60
   */
  readonly cpuTargetPercent?: number;
  /**
   * Seconds after a scale-in before the next one; scale-in of WSS tasks drops sockets.
   * @default 300
   */
  readonly scaleInCooldownSeconds?: number;
  /**
   * Days of container logs kept.
   * @default 30
   */
  readonly logRetentionDays?: number;
  /**
   * CPU architecture of the image.
   * @default "X86_64"
   */
  readonly cpuArchitecture?: "X86_64" | "ARM64";
}

const DEFAULTS = Object.freeze({
  healthCheckGraceSeconds: 60,
  stopTimeoutSeconds: 120,
  cpuTargetPercent: 60,
  scaleInCooldownSeconds: 300,
  logRetentionDays: 30,
  cpuArchitecture: "X86_64",
} as const);

/** An ECS Fargate service with least-privilege roles and CPU/memory autoscaling. */
export class FargateService extends Construct {
  readonly serviceName: string;
  /** ARN of the task role (what the app itself may do). */
  readonly taskRoleArn: string;

  constructor(scope: Construct, id: string, props: FargateServiceProps) {
    super(scope, id);

    checkFargateSize(props);
    const name = `chat-${props.regionId}-${props.name}`;
    const { accountId, partition } = awsAccount(this);

    const logs = new CloudwatchLogGroup(this, "logs", {
      name: `/chat/${props.regionId}/${props.name}`,
      retentionInDays: props.logRetentionDays ?? DEFAULTS.logRetentionDays,
    });

    // ECS may only assume these roles on behalf of tasks of this account and region.
    const ecsTrust = assumeRolePolicy("ecs-tasks.amazonaws.com", {
      StringEquals: { "aws:SourceAccount": accountId },
      ArnLike: {
        "aws:SourceArn": `arn:${partition}:ecs:${props.awsRegion}:${accountId}:*`,
      },
    });
    const executionRole = new IamRole(this, "execution-role", {
      name: `${name}-execution`,
      assumeRolePolicy: ecsTrust,
    });
    new IamRolePolicyAttachment(this, "execution-managed", {
      role: executionRole.name,
      policyArn: `arn:${partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy`,
    });
    new IamRolePolicy(this, "execution-secrets", {
      role: executionRole.id,
      policy: policyJson([
        {
          Sid: "ReadTaskSecrets",
          Effect: "Allow",
          Action: "secretsmanager:GetSecretValue",
          Resource: Object.values(props.secrets),
        },
        ...props.secretKeyArns.map((keyArn, i) => ({
          Sid: `DecryptTaskSecrets${i}`,
          Effect: "Allow" as const,
          Action: "kms:Decrypt",
          Resource: keyArn,
          Condition: {
            StringEquals: {
              "kms:ViaService": `secretsmanager.${props.awsRegion}.amazonaws.com`,
            },
          },
        })),
      ]),
    });

    const taskRole = new IamRole(this, "task-role", {
      name: `${name}-task`,
      assumeRolePolicy: ecsTrust,
    });
    new IamRolePolicy(this, "task-tables", {
      role: taskRole.id,
      policy: policyJson([
        {
          Sid: "InboxAndDedupTables",
          Effect: "Allow",
          Action: TABLE_ACTIONS,
          Resource: props.tableArns,
        },
      ]),
    });

    const task = new EcsTaskDefinition(this, "task", {
      family: name,
      requiresCompatibilities: ["FARGATE"],
      networkMode: "awsvpc",
      cpu: String(props.cpu),
      memory: String(props.memoryMiB),
      executionRoleArn: executionRole.arn,
      taskRoleArn: taskRole.arn,
      runtimePlatform: {
        operatingSystemFamily: "LINUX",
        cpuArchitecture: props.cpuArchitecture ?? DEFAULTS.cpuArchitecture,
      },
      containerDefinitions: JSON.stringify([
        containerDefinition(
          props,
          logs.name,
          props.stopTimeoutSeconds ?? DEFAULTS.stopTimeoutSeconds,
        ),
      ]),
    });

    const service = new EcsService(this, "service", {
      name,
      cluster: props.clusterArn,
      taskDefinition: task.arn,
      launchType: "FARGATE",
      desiredCount: props.minTasks,
      deploymentMinimumHealthyPercent: 100,
      deploymentMaximumPercent: 200,
      deploymentCircuitBreaker: { enable: true, rollback: true },
      healthCheckGracePeriodSeconds:
        props.healthCheckGraceSeconds ?? DEFAULTS.healthCheckGraceSeconds,
      networkConfiguration: {
        subnets: [...props.subnetIds],
        securityGroups: [props.securityGroupId],
        assignPublicIp: false,
      },
      loadBalancer: [
        {
          targetGroupArn: props.targetGroupArn,
          containerName: props.name,
          containerPort: props.port,
        },
      ],
      propagateTags: "SERVICE",
      enableEcsManagedTags: true,
      availabilityZoneRebalancing: "ENABLED",
      // Autoscaling owns the task count once the service exists.
      lifecycle: { ignoreChanges: ["desired_count"] },
      dependsOn: props.dependsOn ? [...props.dependsOn] : undefined,
    });

    this.addAutoscaling(props, props.clusterName, service.name);
    this.serviceName = service.name;
    this.taskRoleArn = taskRole.arn;
  }

  // TODO(#4): scale the WSS on its open-connection count (from /metrics via EMF);
  // CPU and memory alone may scale a fleet of mostly idle sockets out late.
  private addAutoscaling(
    props: FargateServiceProps,
    clusterName: string,
    serviceName: string,
  ) {
    const target = new AppautoscalingTarget(this, "scaling-target", {
      serviceNamespace: "ecs",
      scalableDimension: "ecs:service:DesiredCount",
      resourceId: `service/${clusterName}/${serviceName}`,
      minCapacity: props.minTasks,
      maxCapacity: props.maxTasks,
    });
    const metrics = [
      [
        "cpu",
        "ECSServiceAverageCPUUtilization",
        props.cpuTargetPercent ?? DEFAULTS.cpuTargetPercent,
      ],
      ["memory", "ECSServiceAverageMemoryUtilization", 70],
    ] as const;
    for (const [metric, type, targetValue] of metrics) {
      new AppautoscalingPolicy(this, `scale-on-${metric}`, {
        name: `chat-${props.regionId}-${props.name}-${metric}`,
        policyType: "TargetTrackingScaling",
        serviceNamespace: target.serviceNamespace,
        scalableDimension: target.scalableDimension,
        resourceId: target.resourceId,
        targetTrackingScalingPolicyConfiguration: {
          targetValue,
          predefinedMetricSpecification: { predefinedMetricType: type },
          scaleInCooldown:
            props.scaleInCooldownSeconds ?? DEFAULTS.scaleInCooldownSeconds,
          scaleOutCooldown: 60,
        },
      });
    }
  }
}

function containerDefinition(
  props: FargateServiceProps,
  logGroup: string,
  stopTimeout: number,
) {
  const byName = (a: { name: string }, b: { name: string }) =>
    a.name.localeCompare(b.name);
  return {
    name: props.name,
    image: props.image,
    essential: true,
    portMappings: [{ containerPort: props.port, protocol: "tcp", name: props.name }],
    environment: Object.entries(props.environment)
      .map(([name, value]) => ({ name, value }))
      .sort(byName),
    secrets: Object.entries(props.secrets)
      .map(([name, valueFrom]) => ({ name, valueFrom }))
      .sort(byName),
    stopTimeout,
    // Every WebSocket holds a file descriptor: say the limit rather than rely on defaults.
    ulimits: [{ name: "nofile", softLimit: 65536, hardLimit: 65536 }],
    linuxParameters: { initProcessEnabled: true },
    logConfiguration: {
      logDriver: "awslogs",
      options: {
        "awslogs-group": logGroup,
        "awslogs-region": props.awsRegion,
        "awslogs-stream-prefix": props.name,
      },
    },
  };
}

function checkFargateSize(props: FargateServiceProps): void {
  const allowed = FARGATE_MEMORY[props.cpu];
  const where = `${props.name} of region "${props.regionId}"`;
  if (!allowed) {
    throw new Error(`${where}: cpu ${props.cpu} is not a Fargate size (256 ... 4096)`);
  }

  const { min, max, step } = allowed;
  if (props.memoryMiB < min || props.memoryMiB > max || props.memoryMiB % step !== 0) {
    throw new Error(
      `${where}: memoryMiB ${props.memoryMiB} does not fit cpu ${props.cpu}; ` +
        `use ${min} to ${max} in steps of ${step}`,
    );
  }
}
