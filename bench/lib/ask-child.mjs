/**
 * Sends `request` to a forked child and resolves with `field` of its next message when that is a number;
 * null when the child does not answer within `timeoutMs` (a bench reads that as "not measured").
 */
export function askChild(child, request, field, timeoutMs = 10_000) {
  return new Promise((resolve) => {
    const onMessage = (message) => {
      clearTimeout(timer);
      resolve(typeof message?.[field] === 'number' ? message[field] : null);
    };
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      resolve(null);
    }, timeoutMs);
    child.once('message', onMessage);
    child.send(request);
  });
}
