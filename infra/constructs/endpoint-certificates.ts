// The TLS certificates of the endpoints, one per AWS region (ACM certificates cannot
// cross regions), all DNS-validated by the same two records: ACM derives a validation
// record from the account and the name, so every region's certificate shares them, and
// owning them here (not in a region stack) means removing a region never deletes them.
import { TerraformStack } from "cdktf";
import { Construct } from "constructs";

import { AcmCertificate, AcmCertificateValidation, Route53Record } from "../aws.ts";

import { certificateNames } from "../names.ts";
import type { RegionalProvider } from "./regional-providers.ts";

export interface EndpointCertificatesProps {
  /** The deployment's domain. */
  readonly domain: string;
  /** Public hosted zone of `domain`, where the validation records go. */
  readonly zoneId: string;
  /** The global stack's default region; its certificate provides the records. */
  readonly primary: RegionalProvider;
  /** The other AWS regions of the deployment. */
  readonly others: readonly RegionalProvider[];
}

/** A certificate for `ws.<domain>`, `*.ws.<domain>` and `*.cs.<domain>` in every region. */
export class EndpointCertificates extends Construct {
  constructor(scope: Construct, id: string, props: EndpointCertificatesProps) {
    super(scope, id);

    const names = certificateNames(props.domain);
    const certificates = [props.primary, ...props.others].map(
      ({ awsRegion, provider }) =>
        new AcmCertificate(this, `certificate-${awsRegion}`, {
          provider,
          domainName: names.primary,
          subjectAlternativeNames: names.alternates,
          validationMethod: "DNS",
          keyAlgorithm: "EC_prime256v1",
          tags: { Name: names.primary },
          lifecycle: { createBeforeDestroy: true },
        }),
    );

    // `ws.<domain>` and `*.ws.<domain>` share one record; `*.cs.<domain>` has its own.
    const primary = certificates[0]!;
    // A Terraform expression that picks one name's record out of the set ACM reports;
    // keyed by names known at synth, so the plan never depends on unknown values.
    const logicalId = TerraformStack.of(this).getLogicalId(primary);
    const options = `${primary.terraformResourceType}.${logicalId}.domain_validation_options`;
    const pick = (name: string, field: string) =>
      `\${one([for o in ${options} : o.${field} if o.domain_name == "${name}"])}`;
    const records = [names.primary, names.alternates[1]!].map(
      (name, i) =>
        new Route53Record(this, `validation-${i}`, {
          zoneId: props.zoneId,
          name: pick(name, "resource_record_name"),
          type: pick(name, "resource_record_type"),
          records: [pick(name, "resource_record_value")],
          ttl: 300,
          allowOverwrite: true,
        }),
    );

    certificates.forEach((certificate, i) => {
      new AcmCertificateValidation(this, `validated-${i}`, {
        provider: certificate.provider,
        certificateArn: certificate.arn,
        validationRecordFqdns: records.map((r) => r.fqdn),
      });
    });
  }
}
