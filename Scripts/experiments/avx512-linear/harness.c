#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>
#include <stdint.h>
#include "../../../Sources/CKernels/kernels.c"
#include "k512.h"
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static float rnd(){return (float)rand()/RAND_MAX-0.5f;}
int main(int argc,char**argv){
  int shapes[][3]={{9,1024,1024},{9,1024,4096},{9,4096,1024},{41,1024,1024},{41,1024,4096},{41,4096,1024},{41,768,768},{41,768,3072},{41,3072,768}};
  for(int s=0;s<9;s++){int n=shapes[s][0],k=shapes[s][1],o=shapes[s][2];
    float*x=aligned_alloc(64,sizeof(float)*n*k),*w=aligned_alloc(64,sizeof(float)*o*k),*b=malloc(4*o),*y1=malloc(4*n*o),*y2=malloc(4*n*o),*y3=malloc(4*o);
    for(long i=0;i<(long)n*k;i++)x[i]=rnd(); for(long i=0;i<(long)o*k;i++)w[i]=rnd()*0.1f; for(int i=0;i<o;i++)b[i]=rnd();
    int reps = 40000000000LL/((long)n*k*o*2) + 1; if(reps>200)reps=200;
    double best1=1e9,best2=1e9;
    for(int t=0;t<5;t++){double t0=now();for(int r=0;r<reps;r++)linear_f32(x,n,k,w,b,0,o,y1,o);double d=(now()-t0)/reps;if(d<best1)best1=d;
      t0=now();for(int r=0;r<reps;r++)linear512_f32(x,n,k,w,b,0,o,y2,o);d=(now()-t0)/reps;if(d<best2)best2=d;}
    double maxd=0,maxref=0; for(int r=0;r<n;r++)for(int j=0;j<o;j++){double ref=b[j];for(int i=0;i<k;i++)ref+=(double)x[(long)r*k+i]*w[(long)j*k+i];
      maxd=fmax(maxd,fabs(y2[(long)r*o+j]-ref)); maxref=fmax(maxref,fabs(y1[(long)r*o+j]-ref));}
    int same=1; for(int r=0;r<n;r++){linear512_f32(x+(long)r*k,1,k,w,b,0,o,y3,o); if(memcmp(y3,y2+(long)r*o,4*o))same=0;}
    double fl=2.0*n*k*o;
    printf("n=%2d k=%4d o=%4d  avx2 %6.2f ms %5.1f GF/s | avx512 %6.2f ms %5.1f GF/s | x%.2f | err512 %.1e err2 %.1e rows-alone-equal %d\n",n,k,o,best1*1e3,fl/best1/1e9,best2*1e3,fl/best2/1e9,best1/best2,maxd,maxref,same);
  }
}
