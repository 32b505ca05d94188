import { Global, Module } from '@nestjs/common';
import { FatalErrors } from './fatal-errors';
import { ShutdownSignal } from './shutdown-signal';

@Global()
@Module({ providers: [FatalErrors, ShutdownSignal], exports: [FatalErrors, ShutdownSignal] })
export class LifecycleModule {}
