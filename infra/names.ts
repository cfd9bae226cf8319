// Names that the global stack and the region stacks must agree on. A region stack finds
// what chat-global created by these names (and tags), never by cross-stack references,
// so each stack keeps its own state and can be deployed on its own.

/** DynamoDB global table holding every recipient's inbox. */
export const INBOX_TABLE = "chat-inbox";

/** DynamoDB global table holding message-id deduplication keys. */
export const DEDUP_TABLE = "chat-dedup";

/** Secrets shared by every region (replicated by Secrets Manager). */
export const SHARED_SECRETS = Object.freeze({
  /** HMAC key that verifies client JWTs; the same in every region. */
  jwt: "chat/jwt-secret",
  /** Shared secret that authenticates CS-to-CS calls between regions. */
  internal: "chat/internal-secret",
});

/** ECR repository of each application image (one copy per AWS region). */
export const REPOSITORIES = Object.freeze({
  wss: "chat/wss",
  chatServer: "chat/chat-server",
});

/** Tag that marks a resource as belonging to one chat region. */
export const REGION_TAG = "chat:region";

/** Container ports, fixed by the applications. */
export const PORTS = Object.freeze({
  wss: 8080,
  chatServer: 8081,
  redis: 6379,
  zookeeper: 2181,
});

/** The name of the Terraform stack of a region. */
export function regionStackName(regionId: string): string {
  return `chat-${regionId}`;
}

/** The name of the global stack. */
export const GLOBAL_STACK_NAME = "chat-global";

/** The latency-routed public WebSocket host name: `ws.<domain>`. */
export function wsHost(domain: string): string {
  return `ws.${domain}`;
}

/** One region's own WebSocket host name, used by its health check and by drills. */
export function regionalWsHost(regionId: string, domain: string): string {
  return `${regionId}.ws.${domain}`;
}

/** One region's chat server host name (resolves to its internal load balancer). */
export function csHost(regionId: string, domain: string): string {
  return `${regionId}.cs.${domain}`;
}

/** The names one endpoint certificate must cover, in every AWS region. */
export function certificateNames(domain: string): {
  primary: string;
  alternates: string[];
} {
  return { primary: wsHost(domain), alternates: [`*.ws.${domain}`, `*.cs.${domain}`] };
}

/** A Terraform-safe provider alias for an AWS region: `eu-west-1` -> `eu_west_1`. */
export function providerAlias(awsRegion: string): string {
  return awsRegion.replace(/-/g, "_");
}
