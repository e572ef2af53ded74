import type { onRequestHookHandler } from 'fastify';
import { errorResponse } from '../schemas';
import { sendJsonError } from './errors';

/** What a browser says of where a request came from (Fetch Metadata); a client that says nothing is not a browser's page. */
const OWN_SITE = new Set(['same-origin', 'none']);

export const CROSS_SITE_MESSAGE =
  'cross-site posts are refused: post from this service’s own page, or from a client that is not a browser';

/**
 * Refuses a write a browser sends on behalf of another site's page (a form that posts here when its
 * visitor opens it): by `Sec-Fetch-Site`, or, from a browser that does not send it, by an `Origin`
 * that is not this host. Clients that send neither (curl, scripts, servers) and this service's own page pass.
 */
export const refuseCrossSite: onRequestHookHandler = (request, reply, done) => {
  const site = request.headers['sec-fetch-site'];
  const origin = request.headers.origin;
  const foreign = site !== undefined ? !OWN_SITE.has(site) : origin !== undefined && hostOf(origin) !== request.host;
  if (!foreign) return done();
  // The form's renderer would read the database to show the page; a forged post gets the short answer.
  sendJsonError({ statusCode: 403, error: 'Forbidden', message: CROSS_SITE_MESSAGE }, reply);
};

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}

export const crossSiteResponses = {
  403: errorResponse(
    'A browser sent this for a page of another site (Sec-Fetch-Site, or Origin, names another site): nothing was written',
  ),
};
