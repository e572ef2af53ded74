import type { DbEngine } from './config';
import type { Message } from './stores/store';

export interface BoardView {
  engine: DbEngine;
  /** Newest first; absent when the database could not be read. */
  messages?: Message[];
  /** Shown above the list: why the last post or the read failed. */
  error?: string;
  /** The text the user posted, kept in the field when the post was refused. */
  draft?: string;
}

const ENGINE_NAMES: Record<DbEngine, string> = {
  mysql: 'MySQL',
  mongodb: 'MongoDB',
  memory: 'memory (kept until the service restarts)',
};

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char] as string);
}

/** The message board, complete without JavaScript; /static/app.js only makes posting faster. */
export function renderBoard({ engine, messages, error, draft = '' }: BoardView): string {
  const list =
    messages === undefined
      ? ''
      : messages.length === 0
        ? '<p id="empty">No messages yet. Be the first.</p>'
        : messages.map(renderMessage).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Message board</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/app.css">
<script src="/static/app.js" defer></script>
</head>
<body>
<main>
<header>
<h1>Message board</h1>
<p class="engine">Stored in <strong id="engine" data-engine="${engine}">${escapeHtml(ENGINE_NAMES[engine])}</strong></p>
</header>
<form id="post-form" method="post" action="/submit">
<label for="new_message">New message</label>
<textarea id="new_message" name="new_message" maxlength="2000" rows="3" required>${escapeHtml(draft)}</textarea>
<button type="submit">Post</button>
<p id="form-error" class="error" role="alert"${error ? '' : ' hidden'}>${escapeHtml(error ?? '')}</p>
</form>
<ol id="messages">
${list}
</ol>
</main>
</body>
</html>
`;
}

function renderMessage(message: Message): string {
  return `<li data-id="${escapeHtml(message.id)}"><p class="text">${escapeHtml(message.message)}</p><time datetime="${message.createdAt}">${message.createdAt.replace('T', ' ').slice(0, 19)} UTC</time></li>`;
}
