import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  to: string[];
  from: string;
  subject: string;
  text: string;
  html: string;
  messageId: string;
}

/**
 * A real SMTP server on 127.0.0.1 (npm `smtp-server`) that keeps every message it accepts, parsed
 * as a mail client would. `stop()` closes it (senders then get connection refused) and `start()`
 * opens it again on the same port.
 */
export interface TestSmtpServer {
  url: string;
  received: ReceivedMail[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startSmtpServer(): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = [];
  let server: SMTPServer | undefined;
  let port = 0;
  const open = () =>
    new Promise<void>((resolve, reject) => {
      const smtp = new SMTPServer({
        authOptional: true,
        disabledCommands: ['STARTTLS'],
        logger: false,
        onData(stream, session, callback) {
          simpleParser(stream).then(
            (mail) => {
              received.push({
                to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
                from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
                subject: mail.subject ?? '',
                text: mail.text ?? '',
                html: typeof mail.html === 'string' ? mail.html : '',
                messageId: mail.messageId ?? '',
              });
              callback();
            },
            (err: Error) => callback(err),
          );
        },
      });
      smtp.on('error', reject);
      smtp.listen(port, '127.0.0.1', () => {
        port = (smtp.server.address() as AddressInfo).port;
        server = smtp;
        resolve();
      });
    });
  await open();
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    start: open,
    stop: () =>
      new Promise<void>((resolve) => {
        const closing = server;
        server = undefined;
        if (closing === undefined) resolve();
        else closing.close(() => resolve());
      }),
  };
}
