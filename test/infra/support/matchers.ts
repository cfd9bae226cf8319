// cdktf's Jest matchers (toHaveResourceWithProperties, ...) on vitest's expect, so
// asymmetric matchers such as expect.stringMatching work inside the properties.
// Import this module for its side effect before using the matchers.
import { Testing } from "cdktf";
import { expect } from "vitest";

/** What the matchers take: a provider class (its static `tfResourceType`). */
interface TerraformConstructor {
  readonly tfResourceType: string;
}

declare module "vitest" {
  // The `any` default must match vitest's own declaration for the interfaces to merge.
  interface Matchers<T = any> {
    toHaveResource(type: TerraformConstructor): T;
    toHaveResourceWithProperties(type: TerraformConstructor, properties: object): T;
    toHaveDataSourceWithProperties(type: TerraformConstructor, properties: object): T;
  }
}

// cdktf's adapter reads the framework's expect from the global scope.
const scope = globalThis as { expect?: unknown };
scope.expect ??= expect;
Testing.setupJest();
