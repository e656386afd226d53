/**
 * The durable store's own Table service requests (table-rest.ts) against Azurite, checked through
 * the SDK client: rows it writes read back with their types, keys of any character, ETags that
 * guard replaces, and all-or-none transactions whose refusal names the status.
 */
import { AzureNamedKeyCredential, generateAccountSas, TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AzuriteInstance, startAzurite } from '../../local/azurite';
import { TableRest, TableRestError } from '../../local/host/durable/table-rest';

const TABLE = 'RestRows';
let azurite: AzuriteInstance;
let rest: TableRest;
let sdk: TableClient;

beforeAll(async () => {
  azurite = await startAzurite();
  sdk = TableClient.fromConnectionString(azurite.connectionString, TABLE, { allowInsecureConnection: true });
  await sdk.createTable();
  rest = new TableRest(azurite.connectionString);
});

afterAll(async () => {
  await azurite?.stop();
});

describe('the durable store’s Table requests', () => {
  it('writes rows the SDK reads back with their types, under keys of any character', async () => {
    const partitionKey = "vm:w1:app'01@x|y %é";
    const created = new Date('2026-11-22T10:00:00.000Z');
    expect(
      await rest.insert(TABLE, { partitionKey, rowKey: 'a b', Text: 'x', Count: 3, Flag: true, At: created }),
    ).toBe(true);
    expect(await rest.insert(TABLE, { partitionKey, rowKey: 'a b', Text: 'again' })).toBe(false);
    const read = await sdk.getEntity<Record<string, unknown>>(partitionKey, 'a b');
    expect(read).toMatchObject({ Text: 'x', Count: 3, Flag: true });
    expect(new Date(read.At as Date).toISOString()).toBe(created.toISOString());
    // The date is typed: a filter on it finds the row.
    const found = [];
    for await (const row of sdk.listEntities({
      queryOptions: {
        filter: `At ge datetime'2026-11-22T09:00:00Z' and PartitionKey eq 'vm:w1:app''01@x|y %é'`,
      },
    })) {
      found.push(row.rowKey);
    }
    expect(found).toEqual(['a b']);
    const got = await rest.get(TABLE, partitionKey, 'a b');
    expect(got?.entity).toMatchObject({ Text: 'x', Count: 3 });
    expect(got?.etag).toBe(read.etag);
    expect(await rest.get(TABLE, partitionKey, 'none')).toBeUndefined();
  });

  it('replaces only over the ETag it read, and applies a transaction all or none', async () => {
    const partitionKey = 'instance-1';
    const [first] = await rest.transact(TABLE, [
      { kind: 'insert', entity: { partitionKey, rowKey: 'sentinel', N: 1 } },
      { kind: 'upsert', entity: { partitionKey, rowKey: 'h1', E: 'one' } },
    ]);
    expect(first).toMatch(/^W\/"datetime'/);
    const etags = await rest.transact(TABLE, [
      { kind: 'upsert', entity: { partitionKey, rowKey: 'h2', E: 'two' } },
      { kind: 'replace', entity: { partitionKey, rowKey: 'sentinel', N: 2 }, etag: first! },
    ]);
    expect(etags).toHaveLength(2);
    expect(etags[1]).toBe((await sdk.getEntity(partitionKey, 'sentinel')).etag);

    // A writer still holding the first ETag is refused, and its other row is not written.
    const stale = rest.transact(TABLE, [
      { kind: 'upsert', entity: { partitionKey, rowKey: 'h3', E: 'three' } },
      { kind: 'replace', entity: { partitionKey, rowKey: 'sentinel', N: 3 }, etag: first! },
    ]);
    await expect(stale).rejects.toBeInstanceOf(TableRestError);
    await expect(stale).rejects.toMatchObject({ statusCode: 412, code: 'UpdateConditionNotSatisfied' });
    expect(await rest.get(TABLE, partitionKey, 'h3')).toBeUndefined();
    await expect(
      rest.transact(TABLE, [{ kind: 'insert', entity: { partitionKey, rowKey: 'h1', E: 'dup' } }]),
    ).rejects.toMatchObject({ statusCode: 409, code: 'EntityAlreadyExists' });

    await rest.transact(TABLE, [{ kind: 'delete', partitionKey, rowKey: 'h1' }]);
    expect(await rest.get(TABLE, partitionKey, 'h1')).toBeUndefined();
    await rest.upsert(TABLE, { partitionKey, rowKey: 'h2', E: 'replaced' });
    expect((await sdk.getEntity(partitionKey, 'h2')).E).toBe('replaced');
  });
});

describe('a connection string with a SAS token instead of a key', () => {
  it('reads and writes as well', async () => {
    const parts = Object.fromEntries(
      azurite.connectionString
        .split(';')
        .filter(Boolean)
        .map((part) => [part.slice(0, part.indexOf('=')), part.slice(part.indexOf('=') + 1)]),
    );
    const sas = generateAccountSas(new AzureNamedKeyCredential(parts.AccountName!, parts.AccountKey!), {
      permissions: { query: true, add: true, update: true, delete: true },
      resourceTypes: 'o',
      expiresOn: new Date(Date.now() + 3_600_000),
    });
    const viaSas = new TableRest(`TableEndpoint=${parts.TableEndpoint};SharedAccessSignature=${sas}`);
    await viaSas.transact(TABLE, [{ kind: 'upsert', entity: { partitionKey: 'sas', rowKey: '1', E: 'x' } }]);
    expect((await viaSas.get(TABLE, 'sas', '1'))?.entity).toMatchObject({ E: 'x' });
    expect(() => new TableRest(`TableEndpoint=${parts.TableEndpoint}`)).toThrow(/AccountKey/);
  });
});
