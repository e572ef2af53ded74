/**
 * The floor under any web tier on this stack: node:http and a mysql2 pool running the same queries as
 * the service, with no framework, no validation, no logging and no metrics. Started by run.ts.
 */
import { createServer } from 'node:http';
import mysql, { type ResultSetHeader, type RowDataPacket } from 'mysql2/promise';

const pool = mysql.createPool({
  host: process.env.MYSQL_HOST ?? '127.0.0.1',
  port: Number(process.env.MYSQL_PORT ?? 3306),
  user: process.env.MYSQL_USER ?? 'root',
  password: process.env.MYSQL_PASSWORD ?? '',
  database: process.env.MYSQL_DATABASE ?? 'app',
  connectionLimit: 10,
  timezone: 'Z',
  supportBigNumbers: true,
  bigNumberStrings: true,
});

function send(response: import('node:http').ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

const server = createServer(async (request, response) => {
  try {
    if (request.method === 'GET' && request.url?.startsWith('/messages')) {
      const [rows] = await pool.execute<RowDataPacket[]>(
        'SELECT id, message, created_at FROM messages ORDER BY id DESC LIMIT ?',
        ['51'],
      );
      send(
        response,
        200,
        rows
          .slice(0, 50)
          .map((row) => ({ id: String(row.id), message: row.message, createdAt: row.created_at.toISOString() })),
      );
    } else if (request.method === 'POST' && request.url === '/messages') {
      let body = '';
      for await (const chunk of request) body += chunk;
      const { message } = JSON.parse(body) as { message: string };
      const createdAt = new Date();
      const [result] = await pool.execute<ResultSetHeader>('INSERT INTO messages (message, created_at) VALUES (?, ?)', [
        message,
        createdAt,
      ]);
      send(response, 201, { id: String(result.insertId), message, createdAt: createdAt.toISOString() });
    } else {
      send(response, 404, { error: 'not found' });
    }
  } catch {
    send(response, 500, { error: 'failed' });
  }
});

server.listen(Number(process.env.PORT ?? 5001), '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => server.close(() => pool.end().then(() => process.exit(0))));
