// Writes the `terraform test` file of one synthesized stack: a mocked AWS provider for
// every provider configuration of the stack (default and aliases) and one run that
// applies the whole stack. Mocked values are random strings unless told otherwise, and
// the real provider still validates what they feed into, so the file gives realistic
// values where the provider checks a format: ARNs that other resources consume, the
// account id, generated passwords, and ACM's validation records.
const ACCOUNT = "123456789012";
const MOCK_PASSWORD = "Mock0123456789".repeat(5).slice(0, 64);

/** The parts of a synthesized stack this file looks at. */
interface StackConfig {
  readonly provider?: { aws?: { alias?: string }[] };
  readonly resource?: Record<string, Record<string, Record<string, unknown>>>;
  readonly data?: Record<string, Record<string, unknown>>;
}

type HclValue = string | readonly Record<string, string>[];
type Defaults = Map<string, Record<string, HclValue>>;

/** The text of `tests/apply.tftest.hcl` for a stack's `cdk.tf.json`. */
export function mockProviderTestFile(stack: object): string {
  const config = stack as StackConfig;
  const resources: Defaults = new Map();
  const data: Defaults = new Map();
  const set = (into: Defaults, type: string, values: Record<string, HclValue>) =>
    into.set(type, { ...into.get(type), ...values });

  // Every type whose ARN another attribute consumes gets a well-formed one.
  const text = JSON.stringify(stack);
  for (const m of text.matchAll(
    /\$\{(data\.)?(aws_[a-z0-9_]+)\.[A-Za-z0-9_-]+\.arn\b/g,
  )) {
    const type = m[2]!;
    set(m[1] ? data : resources, type, {
      arn: `arn:aws:mock:us-east-1:${ACCOUNT}:${type}/mock`,
    });
  }

  if (config.data?.aws_caller_identity) {
    set(data, "aws_caller_identity", { account_id: ACCOUNT });
  }
  if (config.data?.aws_secretsmanager_random_password) {
    set(data, "aws_secretsmanager_random_password", { random_password: MOCK_PASSWORD });
  }
  const certificates = Object.values(config.resource?.aws_acm_certificate ?? {});
  if (certificates.length > 0) {
    set(resources, "aws_acm_certificate", {
      domain_validation_options: validationOptions(certificates),
    });
  }

  const aliases = (config.provider?.aws ?? [{}]).map((p) => p.alias);
  const body = [
    ...[...resources].map(([type, values]) => mockBlock("mock_resource", type, values)),
    ...[...data].map(([type, values]) => mockBlock("mock_data", type, values)),
  ].join("");
  const providers = aliases
    .map((alias) => {
      const aliasLine = alias ? `  alias = ${JSON.stringify(alias)}\n` : "";
      return `mock_provider "aws" {\n${aliasLine}${body}}\n`;
    })
    .join("\n");

  return [
    "# Written by test/infra/support/mock-test-file.ts: a full apply against mocked AWS.",
    "",
    providers,
    'run "apply" {',
    "  command = apply",
    "}",
    "",
  ].join("\n");
}

/** One validation record per name, shaped as ACM reports them. */
function validationOptions(
  certificates: Record<string, unknown>[],
): Record<string, string>[] {
  const names = new Set<string>();
  for (const cert of certificates) {
    names.add(String(cert.domain_name));
    for (const alt of (cert.subject_alternative_names as string[] | undefined) ?? []) {
      names.add(alt);
    }
  }
  return [...names].map((name) => {
    const base = name.replace(/^\*\./, "");
    return {
      domain_name: name,
      resource_record_name: `_0123456789abcdef.${base}.`,
      resource_record_type: "CNAME",
      resource_record_value: "_fedcba9876543210.mock.acm-validations.aws.",
    };
  });
}

function mockBlock(kind: string, type: string, values: Record<string, HclValue>): string {
  const lines = Object.entries(values).map(([key, value]) => {
    if (typeof value === "string") return `      ${key} = ${JSON.stringify(value)}`;

    const items = value.map((item) => {
      const fields = Object.entries(item).map(([k, v]) => `${k} = ${JSON.stringify(v)}`);
      return `        { ${fields.join(", ")} },`;
    });
    return [`      ${key} = [`, ...items, "      ]"].join("\n");
  });
  return `  ${kind} "${type}" {\n    defaults = {\n${lines.join("\n")}\n    }\n  }\n`;
}
