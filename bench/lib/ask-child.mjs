/**
 * Sends `request` to a forked child and resolves with its next message when that has a number under
 * `field`; null otherwise, or when the child does not answer within `timeoutMs` (read as "not measured").
 */
export function askChild(child, request, field, timeoutMs = 10_000) {
  return new Promise((resolve) => {
    const onMessage = (message) => {
      clearTimeout(timer);
      resolve(typeof message?.[field] === 'number' ? message : null);
    };
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      resolve(null);
    }, timeoutMs);
    child.once('message', onMessage);
    child.send(request);
  });
}
