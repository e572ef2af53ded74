// Posts without a reload; the form works without this script too.
document.addEventListener('DOMContentLoaded', () => {
  const form = document.getElementById('post-form');
  const field = document.getElementById('new_message');
  const list = document.getElementById('messages');
  const error = document.getElementById('form-error');
  const button = form.querySelector('button');

  function showError(text) {
    error.textContent = text;
    error.hidden = text === '';
  }

  function renderMessage(message) {
    const item = document.createElement('li');
    item.dataset.id = message.id;
    const text = document.createElement('p');
    text.className = 'text';
    text.textContent = message.message;
    const time = document.createElement('time');
    time.dateTime = message.createdAt;
    time.textContent = `${message.createdAt.replace('T', ' ').slice(0, 19)} UTC`;
    item.append(text, time);
    return item;
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showError('');
    button.disabled = true;
    try {
      const response = await fetch('/messages', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ message: field.value }),
      });
      const body = await response.json().catch(() => ({}));
      if (response.status !== 201) {
        showError(body.message || `The message was not posted (HTTP ${response.status}).`);
        return;
      }
      document.getElementById('empty')?.remove();
      list.prepend(renderMessage(body));
      field.value = '';
    } catch {
      showError('The service could not be reached. Your message is still in the box; try again.');
    } finally {
      button.disabled = false;
    }
  });
});
