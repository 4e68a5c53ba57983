// The `jest` global the upstream tests use (jest.fn, spyOn, fake timers, restoreAllMocks) mapped onto vitest's `vi`.
import { vi } from "vitest";

(globalThis as unknown as { jest: typeof vi }).jest = vi;
