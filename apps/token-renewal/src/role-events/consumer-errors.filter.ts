import { Catch, type RpcExceptionFilter } from '@nestjs/common';
import { throwError, type Observable } from 'rxjs';

/**
 * Hands a consumer handler's error on as it is. Nest's default filter logs any
 * error at ERROR and replaces it with "Internal server error", which would
 * turn a batch handed back at shutdown or a rebalance (a RedeliveryError,
 * expected) into an error log, and hide the cause of a real failure from the
 * Kafka server, which reports both as they are.
 */
@Catch()
export class ConsumerErrorsFilter implements RpcExceptionFilter<unknown> {
  catch(exception: unknown): Observable<never> {
    return throwError(() => exception);
  }
}
