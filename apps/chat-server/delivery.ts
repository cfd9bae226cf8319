// The send path of a chat server: a message for a recipient of this region is
// stored in the recipient's inbox (which gives it its place in the recipient's
// order) and then published to the recipient's topic if they are connected; a
// message for a recipient of another region is handed to that region's chat
// server, which does the same there.
import type { Regions } from "../../regions/schema.ts";
import { ChatError } from "../shared/errors.ts";
import { parseId, userTopic } from "../shared/ids.ts";
import type { Inbox } from "../shared/inbox.ts";
import type { Logger } from "../shared/logger.ts";
import { messageId, msgFrame, type SendRequest } from "../shared/message.ts";
import type { PresenceCache } from "../shared/presence.ts";
import type { Publisher } from "./publisher.ts";

/** A send whose sender is known (a token subject, or a peer's word for it). */
export interface Submission extends SendRequest {
  readonly from: string;
  readonly sentAt: number;
}

export interface Accepted {
  readonly id: string;
  readonly duplicate: boolean;
}

/** Hands a submission to the chat server of another region. */
export type PeerForwarder = (region: string, s: Submission) => Promise<Accepted>;

export class Delivery {
  constructor(
    private readonly region: string,
    private readonly regions: Regions,
    private readonly inbox: Inbox,
    private readonly presence: PresenceCache,
    private readonly publisher: Publisher,
    private readonly forward: PeerForwarder,
    private readonly log: Logger,
  ) {}

  /**
   * Accepts a message. `mayForward` is false for messages that a peer already
   * routed here: they must be for this region.
   */
  async submit(s: Submission, mayForward: boolean): Promise<Accepted> {
    const to = parseId(s.to, this.regions, "to");
    if (to.region !== this.region) {
      if (!mayForward) {
        throw new ChatError(
          "BAD_REQUEST",
          `recipient ${s.to} is not homed in ${this.region}`,
        );
      }
      return this.forward(to.region, s);
    }

    const id = messageId(s.from, s.clientMsgId);
    const entry = { id, from: s.from, to: s.to, body: s.body, sentAt: s.sentAt };
    const { seq, duplicate } = await this.inbox.append(s.to, entry);

    if (!this.presence.synced || this.presence.isOnline(s.to)) {
      const frame = msgFrame({ seq, ...entry });
      await this.publisher.publish(userTopic(s.to), frame);
    }
    if (duplicate) this.log.debug({ id, to: s.to, seq }, "duplicate send");
    return { id, duplicate };
  }
}
