/**
 * The rehearsal ledger: every ARM call the simulator answered, counted by the simulator itself so a
 * rehearsal's figures do not depend on the factory's own records (contracts.md section 4).
 */
import type { LedgerFindings, OperationKind } from './types';

export interface LedgerEntry {
  /** Order in which calls were answered, from 1. */
  seq: number;
  /** Virtual ms since epoch when the call was answered. */
  time: number;
  method: string;
  /** ARM operation name, e.g. `Microsoft.Compute/virtualMachines/write`, or `unknown` when no route matched. */
  operation: string;
  kind: OperationKind;
  /** The resource path the call addressed (lower case, no query). */
  resource: string;
  status: number;
  /** ARM error code when the call failed. */
  errorCode?: string;
  /** appId of the caller, when authenticated. */
  appId?: string;
}

export interface LedgerSummary extends LedgerFindings {
  armReads: number;
  /** PUT, PATCH and POST calls (ARM counts actions against the writes bucket). */
  armWrites: number;
  armDeletes: number;
  /** Calls answered 429. */
  throttled: number;
  /** Calls answered 500/503 by fault injection. */
  injectedFaults: number;
}

export class Ledger {
  private readonly list: LedgerEntry[] = [];
  private injected = 0;

  record(entry: Omit<LedgerEntry, 'seq'>, injectedFault = false): void {
    this.list.push({ seq: this.list.length + 1, ...entry });
    if (injectedFault) this.injected += 1;
  }

  entries(): readonly LedgerEntry[] {
    return this.list;
  }

  summary(findings: LedgerFindings): LedgerSummary {
    let armReads = 0;
    let armWrites = 0;
    let armDeletes = 0;
    let throttled = 0;
    for (const entry of this.list) {
      if (entry.method === 'GET') armReads += 1;
      else if (entry.method === 'DELETE') armDeletes += 1;
      else armWrites += 1;
      if (entry.status === 429) throttled += 1;
    }
    return { armReads, armWrites, armDeletes, throttled, injectedFaults: this.injected, ...findings };
  }
}
