// What a plan of adopt's is made of (plan.ts makes one, apply.ts carries it out, report.ts prints it).
import type { CliCode } from "../errors.ts";
import type { Manifest } from "./manifest.ts";
import type { TemplateSource } from "./template.ts";

/** One file of the function or its sources: what happens to it and why. */
export interface FileStep {
  path: string;
  status: "create" | "update" | "remove" | "unchanged";
  why: string;
}

/** One template migration: adopted now (create) or already (unchanged). */
export interface MigrationStep {
  template: string;
  file: string;
  status: "create" | "unchanged";
  why: string;
}

/** One change apply makes: `before` is the sha256 of what the plan saw there (an update or a removal checks it). */
export interface Write {
  path: string;
  action: "create" | "update" | "remove";
  content: string;
  before?: string;
  /** For config.toml and .gitignore, which adopt only appends to: the text the plan saw. */
  base?: string;
}

/** Why adopt will not go ahead: one situation, the files it concerns, what to do. */
export interface Refusal {
  code: CliCode;
  situation: string;
  message: string;
  paths: string[];
}

/** What adopt would do in a project. */
export interface Plan {
  project: string;
  template: string;
  function: string;
  /** first: nothing adopted yet; upgrade: a manifest; pre-manifest: adopted by a release that wrote none. */
  adoption: "first" | "upgrade" | "pre-manifest";
  files: FileStep[];
  migrations: MigrationStep[];
  config: "added" | "present";
  gitignore: string[];
  manifest: "create" | "update" | "version only" | "unchanged";
  changed: boolean;
  next: string[];
  notes: string[];
  refusals: Refusal[];
  /** What apply writes, in order (the manifest last). */
  writes: Write[];
}

/** What the plan needs besides the project: the template, the flags and the clock. */
export interface PlanInput {
  /** The project's real path. */
  project: string;
  template: string;
  source: TemplateSource;
  templateInfo: Manifest["template"];
  functionFlag?: string | undefined;
  examples: boolean;
  now: Date;
}
