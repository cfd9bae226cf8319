// chatctl: local mode, tokens, a terminal chat client, inbox inspection and
// region files. `chatctl help` lists the commands.
import { chat } from "./chat.ts";
import { UsageError } from "./cli.ts";
import { drill } from "./drill.ts";
import { inbox } from "./inbox.ts";
import { localStatus, localUp } from "./local.ts";
import { regionsCommand } from "./regions.ts";
import { statusCommand } from "./status.ts";
import { token } from "./token.ts";

const HELP = `chatctl: operate the multi-region chat system

  chatctl local up [--only usa,eu] [--wss 2] [--zk-ensemble 1|3] [--redis-replica]
                  [--console-port p] [--fanout per-user|per-group]
                                               start every region locally, and the web
                                               console (npm start); fan-out defaults to
                                               regions/deployment.json
  chatctl local status [--json]                endpoints and health of the local system
  chatctl token <userId> [--ttl seconds]       print a token for the local secret
  chatctl chat <userId>                        chat from the terminal: type "bob:eu hello"
  chatctl inbox <userId> [--json]              pending entries and the last acknowledged seq
  chatctl status [--json]                      per region: redis, zookeeper, wss, chat server
  chatctl drill <scenario> [--region usa] [--target local|aws] [--json] [thresholds]
                  [--fanout per-user|per-group]
                                               run a failure drill and report on it
                                               (scenarios: wss-crash, redis-outage, redis-failover,
                                               zk-node-loss, zk-session-expiry, region-outage)
  chatctl regions list|validate [--json]       the region files and their validation
  chatctl regions add <id> --aws-region <r> [--cidr <c>] [--azs <n>]
                                               write a new region file (next free /16 if no --cidr)
  chatctl regions deploy-plan [--json]         the order of the stacks to deploy
                                               (regions commands take --dir <regions folder>)
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, sub, ...rest] = argv;
  switch (cmd) {
    case "local":
      if (sub === "up") return localUp(rest);
      if (sub === "status") return localStatus(rest);
      throw new UsageError(
        `unknown command "local ${sub ?? ""}"; use "local up" or "local status"`,
      );
    case "drill":
      return drill([sub, ...rest].filter((a): a is string => a !== undefined));
    case "token":
      return token([sub, ...rest].filter((a): a is string => a !== undefined));
    case "chat":
      return chat([sub, ...rest].filter((a): a is string => a !== undefined));
    case "inbox":
      return inbox([sub, ...rest].filter((a): a is string => a !== undefined));
    case "regions":
      return regionsCommand(sub, rest);
    case "status":
      return statusCommand([sub, ...rest].filter((a): a is string => a !== undefined));
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(HELP);
      return 0;
    default:
      throw new UsageError(`unknown command "${cmd}"; run "chatctl help"`);
  }
}

// Output piped into a reader that stopped (`chatctl inbox u | head`) is not
// an error: stop quietly, as other command-line tools do.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code !== "EPIPE") throw err;
  process.exit(0);
});

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`chatctl: ${err.message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`chatctl: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
