import { accessLogFilter, type AccessLogMode, capText, type Logger } from "../log.ts";
import type { Gateway, RequestState } from "../pipeline.ts";

/** The last stage: runs for every request once it has its answer. */
export type RecordStage = (s: RequestState, res: Response) => void;

/**
 * Stage 7, record: the request's one access line (refusals keep the event name `request_rejected` and their
 * reason), and a usage count for the key that verified (only verified requests are counted; O(1), no I/O).
 */
export function recordStage(g: Gateway, mode: AccessLogMode): RecordStage {
  const wantsLine = accessLogFilter(mode);
  return (s, res) => {
    const status = res.status;
    if (wantsLine(status)) {
      const { req } = s;
      const entry: Parameters<Logger>[0] = s.reason
        ? { level: "warn", event: "request_rejected", reason: s.reason }
        : { level: "info", event: "request" };
      entry.request_id = s.requestId ?? null;
      entry.status = status;
      entry.upstream_status = s.upstreamStatus ?? null;
      entry.method = capText(req.method, 16);
      entry.target = s.target?.path ?? null;
      if (s.reason) entry.path = capText(new URL(req.url).pathname);
      // A writer name is ≤ 63 characters; a URL issuer's iss (refused before it named a writer) is cut like it.
      entry.issuer = s.issuer === undefined ? null : capText(s.issuer, 64);
      const issuerUrl = s.verified?.trust?.issuerUrl;
      if (issuerUrl !== undefined) entry.issuer_url = capText(issuerUrl, 128);
      entry.kid = s.kid === undefined ? null : capText(s.kid, 128);
      entry.writer_sub = s.writerSub === undefined ? null : capText(s.writerSub, 128);
      entry.cache = s.cache ?? null;
      if (s.logDetails) entry.details = s.logDetails;
      entry.ms = Math.round((performance.now() - s.started) * 100) / 100;
      g.log(entry);
    }
    if (s.verified) g.usage?.record(s.verified.issuer, s.verified.kid ?? "", status >= 400);
  };
}
