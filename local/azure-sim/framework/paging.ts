/** ARM list paging: `{ value, nextLink }`, the link carrying a `$skiptoken` and the api-version. */
import type { ArmRequest } from './types';

export function pageOf<T>(items: T[], req: ArmRequest, pageSize: number): { value: T[]; nextLink?: string } {
  const skip = Number.parseInt(req.query.get('$skiptoken') ?? '0', 10);
  const start = Number.isFinite(skip) && skip > 0 ? skip : 0;
  const value = items.slice(start, start + pageSize);
  if (start + pageSize >= items.length) return { value };
  const query = new URLSearchParams(req.query);
  query.set('$skiptoken', String(start + pageSize));
  if (req.apiVersion) query.set('api-version', req.apiVersion);
  return { value, nextLink: `${req.baseUrl ?? ''}${req.path}?${query.toString()}` };
}
