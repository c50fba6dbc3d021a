package main

import "context"

func rootContext() context.Context { return context.Background() }
