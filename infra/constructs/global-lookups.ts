// What a region stack reads of chat-global's work, looked up by name in the region's
// own AWS region. A region stack planned before chat-global is applied fails here, at
// plan time, with "no matching ... found": deploy chat-global first.
import { Construct } from "constructs";

import {
  DataAwsAcmCertificate,
  DataAwsEcrRepository,
  DataAwsRoute53Zone,
  DataAwsSecretsmanagerSecret,
} from "../aws.ts";

import { REPOSITORIES, SHARED_SECRETS, certificateNames } from "../names.ts";

export interface GlobalLookupsProps {
  /** The deployment's domain (its public hosted zone). */
  readonly domain: string;
}

/** Hosted zone, certificate, image repositories and shared secrets of a region. */
export class GlobalLookups extends Construct {
  readonly zoneId: string;
  readonly certificateArn: string;
  readonly wssRepositoryUrl: string;
  readonly chatServerRepositoryUrl: string;
  readonly jwtSecretArn: string;
  readonly internalSecretArn: string;

  constructor(scope: Construct, id: string, props: GlobalLookupsProps) {
    super(scope, id);

    this.zoneId = new DataAwsRoute53Zone(this, "zone", {
      name: props.domain,
      privateZone: false,
    }).zoneId;
    this.certificateArn = new DataAwsAcmCertificate(this, "certificate", {
      domain: certificateNames(props.domain).primary,
      statuses: ["ISSUED"],
      mostRecent: true,
    }).arn;
    this.wssRepositoryUrl = new DataAwsEcrRepository(this, "wss-repository", {
      name: REPOSITORIES.wss,
    }).repositoryUrl;
    this.chatServerRepositoryUrl = new DataAwsEcrRepository(this, "cs-repository", {
      name: REPOSITORIES.chatServer,
    }).repositoryUrl;
    this.jwtSecretArn = new DataAwsSecretsmanagerSecret(this, "jwt-secret", {
      name: SHARED_SECRETS.jwt,
    }).arn;
    this.internalSecretArn = new DataAwsSecretsmanagerSecret(this, "internal-secret", {
      name: SHARED_SECRETS.internal,
    }).arn;
  }
}
